"""VITS training losses: mel reconstruction, KL between posterior and flowed prior, duration,
least-squares adversarial terms and discriminator feature matching."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from provoice.tts.model.commons import slice_segments
from provoice.tts.model.mel import AudioFeatures
from provoice.tts.model.synthesizer import VitsOutput


def discriminator_loss(real_scores: Sequence[torch.Tensor], fake_scores: Sequence[torch.Tensor]) -> torch.Tensor:
    """LSGAN: push real scores to 1 and generated ones to 0."""
    loss = torch.zeros((), device=real_scores[0].device)
    for real, fake in zip(real_scores, fake_scores):
        loss = loss + torch.mean((1 - real.float()) ** 2) + torch.mean(fake.float() ** 2)
    return loss


def generator_adversarial_loss(fake_scores: Sequence[torch.Tensor]) -> torch.Tensor:
    """LSGAN generator term: push scores of generated audio to 1."""
    loss = torch.zeros((), device=fake_scores[0].device)
    for fake in fake_scores:
        loss = loss + torch.mean((1 - fake.float()) ** 2)
    return loss


def feature_loss(
    real_fmaps: Sequence[Sequence[torch.Tensor]], fake_fmaps: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """L1 between discriminator activations on real and generated audio (times 2, as in HiFi-GAN)."""
    loss = torch.zeros((), device=real_fmaps[0][0].device)
    for real_maps, fake_maps in zip(real_fmaps, fake_fmaps):
        for real, fake in zip(real_maps, fake_maps):
            loss = loss + torch.mean(torch.abs(real.float().detach() - fake.float()))
    return loss * 2


def kl_loss(
    z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor, z_mask: torch.Tensor
) -> torch.Tensor:
    """KL(q(z|spec) || p(z|text)) estimated at the flowed sample z_p, per valid frame-channel."""
    kl = logs_p - logs_q - 0.5 + 0.5 * (z_p - m_p) ** 2 * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * z_mask) / torch.sum(z_mask)


def mel_loss(mel_real: torch.Tensor, mel_fake: torch.Tensor) -> torch.Tensor:
    """Mean absolute log-mel difference (unweighted)."""
    return F.l1_loss(mel_fake, mel_real)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator objective (VITS / Piper defaults)."""

    mel: float = 45.0
    kl: float = 1.0
    duration: float = 1.0
    adversarial: float = 1.0
    feature: float = 1.0


def target_segment(audio: torch.Tensor, out: VitsOutput, hop_length: int) -> torch.Tensor:
    """The ground-truth waveform window [B, 1, segment] matching `out.audio`."""
    if audio.dim() == 2:
        audio = audio.unsqueeze(1)
    segment = out.audio.size(-1)
    if audio.size(-1) < segment:
        audio = F.pad(audio, (0, segment - audio.size(-1)))
    return slice_segments(audio, out.ids_slice * hop_length, segment)


def reconstruction_losses(
    out: VitsOutput, audio_segment: torch.Tensor, features: AudioFeatures
) -> dict[str, torch.Tensor]:
    """Generator terms that need no discriminator: unweighted mel L1, KL and duration."""
    mel_real = features.mel(audio_segment)
    mel_fake = features.mel(out.audio)
    return {
        "mel": mel_loss(mel_real, mel_fake),
        "kl": kl_loss(out.z_p, out.logs_q, out.m_p, out.logs_p, out.y_mask),
        "duration": torch.sum(out.l_length.float()),
    }


def generator_objective(
    terms: dict[str, torch.Tensor],
    fake_scores: Sequence[torch.Tensor] | None = None,
    real_fmaps: Sequence[Sequence[torch.Tensor]] | None = None,
    fake_fmaps: Sequence[Sequence[torch.Tensor]] | None = None,
    weights: LossWeights = LossWeights(),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted total generator loss; adds adversarial and feature terms when scores are given."""
    terms = dict(terms)
    if fake_scores is not None:
        terms["adversarial"] = generator_adversarial_loss(fake_scores)
    if real_fmaps is not None and fake_fmaps is not None:
        terms["feature"] = feature_loss(real_fmaps, fake_fmaps)
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    return total, terms
