"""A tiny VITS trains: all losses back-propagate and one utterance is overfitted."""

from __future__ import annotations

import math

import torch

from provoice.tts.model.config import VitsConfig
from provoice.tts.model.losses import (
    discriminator_loss,
    generator_objective,
    mel_loss,
    reconstruction_losses,
    target_segment,
)
from provoice.tts.model.mel import AudioFeatures, mel_filterbank
from provoice.tts.model.synthesizer import SynthesizerTrn, build_discriminator


def utterance(cfg: VitsConfig, frames: int = 48) -> torch.Tensor:
    """A voiced, gliding harmonic tone with a syllable-like envelope: [1, frames * hop]."""
    n = frames * cfg.hop_length
    t = torch.arange(n) / cfg.sample_rate
    f0 = 150 + 50 * torch.sin(2 * math.pi * 2 * t)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / cfg.sample_rate
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t).abs()
    return (sum(0.3 / k * torch.sin(k * phase) for k in range(1, 6)) * envelope).unsqueeze(0)


def test_mel_filterbank_is_slaney_normalised():
    basis = mel_filterbank(22050, 1024, 80)
    assert basis.shape == (80, 513)
    assert torch.all(basis >= 0) and torch.all(basis.sum(1) > 0)
    assert torch.all(basis[:, -1] == 0), "nothing above the last band edge at fmax = sr/2"


def test_forward_and_backward_through_all_losses(single_thread):
    torch.manual_seed(0)
    cfg = VitsConfig.tiny(gin_channels=8)
    generator, discriminator, features = SynthesizerTrn(cfg), build_discriminator(cfg), AudioFeatures(cfg)
    audio = torch.cat([utterance(cfg), utterance(cfg) * 0.5])
    spec = features.spectrogram(audio)
    assert spec.shape == (2, cfg.spec_channels, 48)
    ids, id_lengths = torch.randint(1, 100, (2, 9)), torch.tensor([9, 6])
    spec_lengths = torch.tensor([48, 30])

    out = generator(ids, id_lengths, spec, spec_lengths, g=torch.randn(2, 256))
    assert out.audio.shape == (2, 1, cfg.segment_size)
    assert torch.all(out.attn.sum((2, 3)).squeeze(1) == spec_lengths.float())
    real = target_segment(audio, out, cfg.hop_length)
    real_scores, fake_scores, _, _ = discriminator(real, out.audio.detach())
    d_loss = discriminator_loss(real_scores, fake_scores)
    d_loss.backward()
    assert all(p.grad is not None for p in discriminator.parameters())

    terms = reconstruction_losses(out, real, features)
    _, fake_scores, real_fmaps, fake_fmaps = discriminator(real, out.audio)
    total, terms = generator_objective(terms, fake_scores, real_fmaps, fake_fmaps)
    assert set(terms) == {"mel", "kl", "duration", "adversarial", "feature"}
    assert all(torch.isfinite(v) for v in terms.values())
    total.backward()
    for part in ("enc_p", "enc_q", "flow", "dp", "dec", "voice"):
        grads = [p.grad for p in getattr(generator, part).parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), part


def test_overfits_one_utterance(single_thread):
    torch.manual_seed(0)
    cfg = VitsConfig.tiny()
    generator, discriminator, features = SynthesizerTrn(cfg), build_discriminator(cfg), AudioFeatures(cfg)
    audio = utterance(cfg)
    spec = features.spectrogram(audio)
    ids, id_lengths, spec_lengths = torch.randint(1, 100, (1, 12)), torch.tensor([12]), torch.tensor([spec.size(2)])
    opt_g = torch.optim.AdamW(generator.parameters(), 1e-3, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(discriminator.parameters(), 1e-3, betas=(0.8, 0.99))

    def reconstruction() -> float:
        """Mel L1 of decoding the posterior mean of the whole utterance."""
        generator.eval()
        with torch.no_grad():
            _, m_q, _, _ = generator.enc_q(spec, spec_lengths)
            value = mel_loss(features.mel(audio), features.mel(generator.dec(m_q))).item()
        generator.train()
        return value

    before = reconstruction()
    for _ in range(100):
        out = generator(ids, id_lengths, spec, spec_lengths)
        real = target_segment(audio, out, cfg.hop_length)
        real_scores, fake_scores, _, _ = discriminator(real, out.audio.detach())
        opt_d.zero_grad()
        discriminator_loss(real_scores, fake_scores).backward()
        opt_d.step()
        _, fake_scores, real_fmaps, fake_fmaps = discriminator(real, out.audio)
        total, _ = generator_objective(reconstruction_losses(out, real, features), fake_scores, real_fmaps, fake_fmaps)
        opt_g.zero_grad()
        total.backward()
        opt_g.step()
    after = reconstruction()
    print(f"mel L1 reconstruction: {before:.3f} -> {after:.3f}")
    assert after < 0.7 * before
