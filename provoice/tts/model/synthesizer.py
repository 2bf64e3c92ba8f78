"""The VITS generator (`SynthesizerTrn`, Piper's `model_g`) and discriminator (`model_d`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from provoice.tts.model.alignment import maximum_path
from provoice.tts.model.commons import generate_path, rand_slice_segments, sequence_mask
from provoice.tts.model.conditioning import VoiceBiases, VoiceConditioning
from provoice.tts.model.config import VitsConfig
from provoice.tts.model.coupling import ResidualCouplingBlock
from provoice.tts.model.discriminator import MultiPeriodDiscriminator
from provoice.tts.model.duration import DurationPredictor, StochasticDurationPredictor
from provoice.tts.model.encoders import PosteriorEncoder, TextEncoder
from provoice.tts.model.generator import Generator
from provoice.tts.model.layers import WeightNormed

#: State-dict prefixes of ProVoice additions that are not part of a Piper checkpoint.
EXTRA_PREFIXES = ("voice.",)


@dataclass
class VitsOutput:
    """Everything a training step needs from one generator forward pass."""

    audio: torch.Tensor  # [B, 1, segment_size] decoded from a random latent window
    ids_slice: torch.Tensor  # [B] first frame of each window
    l_length: torch.Tensor  # [B] duration loss, already divided by the number of tokens in the batch
    attn: torch.Tensor  # [B, 1, T_y, T_x] monotonic alignment
    x_mask: torch.Tensor
    y_mask: torch.Tensor
    z: torch.Tensor
    z_p: torch.Tensor
    m_p: torch.Tensor  # prior statistics expanded to frames
    logs_p: torch.Tensor
    m_q: torch.Tensor
    logs_q: torch.Tensor


class Synthesis(NamedTuple):
    """Audio [B, 1, T] in [-1, 1], the valid length in samples of each item, and the frames each
    phoneme id was given [B, T_x] (word timestamps are read from them)."""

    audio: torch.Tensor
    lengths: torch.Tensor
    durations: torch.Tensor | None = None


class SynthesizerTrn(nn.Module):
    """VITS generator with Piper's module names (enc_p, dec, enc_q, flow, dp).

    When `config.gin_channels` > 0 it also owns `voice` (see `provoice.tts.model.conditioning`) and
    `forward` / `infer` accept `g`, a speaker embedding [B, config.speaker_embedding_dim].
    """

    def __init__(self, config: VitsConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.enc_p = TextEncoder(
            c.n_vocab,
            c.inter_channels,
            c.hidden_channels,
            c.filter_channels,
            c.n_heads,
            c.n_layers,
            c.kernel_size,
            c.p_dropout,
            c.window_size,
        )
        self.dec = Generator(
            c.inter_channels,
            c.resblock,
            c.resblock_kernel_sizes,
            c.resblock_dilation_sizes,
            c.upsample_rates,
            c.upsample_initial_channel,
            c.upsample_kernel_sizes,
        )
        self.enc_q = PosteriorEncoder(
            c.spec_channels, c.inter_channels, c.hidden_channels, c.posterior_kernel_size, 1, c.posterior_layers
        )
        self.flow = ResidualCouplingBlock(
            c.inter_channels, c.hidden_channels, c.flow_kernel_size, 1, c.flow_layers, c.n_flows
        )
        if c.use_sdp:
            self.dp: nn.Module = StochasticDurationPredictor(
                c.hidden_channels, c.dp_kernel_size, c.dp_p_dropout, c.dp_n_flows
            )
        else:
            self.dp = DurationPredictor(c.hidden_channels, c.dp_filter_channels, c.dp_kernel_size, c.dp_p_dropout)
        self.voice: VoiceConditioning | None = None
        if c.gin_channels:
            self.voice = VoiceConditioning(
                c.speaker_embedding_dim,
                c.gin_channels,
                c.hidden_channels,
                c.hidden_channels,
                c.upsample_initial_channel,
                c.n_flows,
            )

    def piper_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict without ProVoice extras: exactly the keys of a Piper `model_g`."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(EXTRA_PREFIXES)}

    def extra_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the ProVoice extras (empty for an unconditioned model)."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(EXTRA_PREFIXES)}

    def _voice_biases(self, g: torch.Tensor | None) -> VoiceBiases | None:
        if g is None:
            return None
        if self.voice is None:
            raise ValueError(
                "this model has no voice conditioning (gin_channels is 0) but a speaker embedding was given"
            )
        if g.dim() != 2 or g.size(1) != self.config.speaker_embedding_dim:
            dim = self.config.speaker_embedding_dim
            raise ValueError(f"speaker embedding must be [B, {dim}], got {tuple(g.shape)}")
        return self.voice(g)

    def forward(
        self,
        x: torch.Tensor,
        x_lengths: torch.Tensor,
        y: torch.Tensor,
        y_lengths: torch.Tensor,
        g: torch.Tensor | None = None,
        prior_items: int = 0,
        prior_noise_scale: float = 0.667,
    ) -> VitsOutput:
        """Training pass: phoneme ids x [B, T_x], linear spectrogram y [B, spec_channels, T_y].

        The decoder renders the posterior sample z, except for the first `prior_items` items: their
        z comes the way inference makes it, through the inverse flow from a sample of the text's
        prior (aligned to the real frames), so the decoder and flow also learn the path that speaks.
        """
        biases = self._voice_biases(g)
        h, m_p, logs_p, x_mask = self.enc_p(x, x_lengths, cond=biases.enc_p if biases else None)
        z, m_q, logs_q, y_mask = self.enc_q(y, y_lengths, cond=biases.enc_q if biases else None)
        z_p = self.flow(z, y_mask, conds=biases.flow if biases else None)

        with torch.no_grad():
            attn_mask = x_mask.unsqueeze(2) * y_mask.unsqueeze(-1)
            attn = maximum_path(self._log_likelihoods(z_p, m_p, logs_p), attn_mask.squeeze(1)).unsqueeze(1)

        w = attn.sum(2)
        dp_cond = biases.dp if biases else None
        if self.config.use_sdp:
            l_length = self.dp(h, x_mask, w, cond=dp_cond) / torch.sum(x_mask)
        else:
            logw_target = torch.log(w + 1e-6) * x_mask
            logw = self.dp(h, x_mask, cond=dp_cond)
            l_length = torch.sum((logw - logw_target) ** 2, [1, 2]) / torch.sum(x_mask)

        m_p = (attn.squeeze(1) @ m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = (attn.squeeze(1) @ logs_p.transpose(1, 2)).transpose(1, 2)

        z_dec = z
        if prior_items > 0:
            k = min(prior_items, z.size(0))
            z_p_prior = m_p[:k] + torch.randn_like(m_p[:k]) * torch.exp(logs_p[:k]) * prior_noise_scale
            conds = [c[:k] for c in biases.flow] if biases else None
            z_prior = self.flow(z_p_prior, y_mask[:k], conds=conds, reverse=True) * y_mask[:k]
            z_dec = torch.cat([z_prior, z[k:]])
        z_slice, ids_slice = rand_slice_segments(z_dec, y_lengths, self.config.segment_frames)
        audio = self.dec(z_slice, cond=biases.dec if biases else None)
        return VitsOutput(audio, ids_slice, l_length, attn, x_mask, y_mask, z, z_p, m_p, logs_p, m_q, logs_q)

    @staticmethod
    def _log_likelihoods(z_p: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor) -> torch.Tensor:
        """log N(z_p[:, :, y] | m_p[:, :, x], exp(logs_p[:, :, x])) summed over channels: [B, T_y, T_x]."""
        inv_var = torch.exp(-2 * logs_p)
        term1 = torch.sum(-0.5 * math.log(2 * math.pi) - logs_p, [1], keepdim=True)
        term2 = (-0.5 * z_p.pow(2)).transpose(1, 2) @ inv_var
        term3 = z_p.transpose(1, 2) @ (m_p * inv_var)
        term4 = torch.sum(-0.5 * m_p.pow(2) * inv_var, [1], keepdim=True)
        return term1 + term2 + term3 + term4

    @torch.no_grad()
    def reconstruct(self, y: torch.Tensor, y_lengths: torch.Tensor, g: torch.Tensor | None = None) -> Synthesis:
        """Decode real speech through the posterior mean (no text, no noise): the held-out
        reconstruction whose mel error shows whether the decoder still fits unseen audio."""
        biases = self._voice_biases(g)
        _, m_q, _, y_mask = self.enc_q(y, y_lengths, cond=biases.enc_q if biases else None)
        audio = self.dec(m_q * y_mask, cond=biases.dec if biases else None)
        return Synthesis(audio, y_lengths * self.config.hop_length)

    @torch.no_grad()
    def infer(
        self,
        phoneme_ids: torch.Tensor,
        lengths: torch.Tensor,
        noise_scale: float = 0.667,
        length_scale: float = 1.0,
        noise_w: float = 0.8,
        g: torch.Tensor | None = None,
        max_frames: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Synthesis:
        """Synthesise audio for phoneme ids [B, T_x] (Piper's `scales` are the three floats); the noise
        comes from `generator` when given, so concurrent seeded calls do not share a stream."""
        biases = self._voice_biases(g)
        h, m_p, logs_p, x_mask = self.enc_p(phoneme_ids, lengths, cond=biases.enc_p if biases else None)
        dp_cond = biases.dp if biases else None
        if self.config.use_sdp:
            logw = self.dp(h, x_mask, cond=dp_cond, reverse=True, noise_scale=noise_w, generator=generator)
        else:
            logw = self.dp(h, x_mask, cond=dp_cond)
        w_ceil = torch.ceil(torch.exp(logw) * x_mask * length_scale)
        y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
        y_mask = sequence_mask(y_lengths).unsqueeze(1).to(x_mask.dtype)
        attn_mask = x_mask.unsqueeze(2) * y_mask.unsqueeze(-1)
        attn = generate_path(w_ceil, attn_mask)
        m_p = (attn.squeeze(1) @ m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = (attn.squeeze(1) @ logs_p.transpose(1, 2)).transpose(1, 2)
        noise = torch.randn(m_p.shape, device=m_p.device, dtype=m_p.dtype, generator=generator)
        z_p = m_p + noise * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, conds=biases.flow if biases else None, reverse=True)
        z = (z * y_mask)[:, :, :max_frames]
        audio = self.dec(z, cond=biases.dec if biases else None)
        hop = self.config.hop_length
        return Synthesis(audio, torch.clamp_max(y_lengths, z.size(2)) * hop, w_ceil.squeeze(1))


def build_discriminator(config: VitsConfig) -> MultiPeriodDiscriminator:
    """Piper's `model_d` for this config."""
    return MultiPeriodDiscriminator(
        config.discriminator_periods,
        config.disc_scale_channels,
        config.disc_scale_groups,
        config.disc_period_channels,
    )


def for_inference(generator: SynthesizerTrn) -> SynthesizerTrn:
    """Eval mode with weight norm folded into plain weights: about 20% faster synthesis on CPU
    (docs/BENCHMARKS.md); only for models loaded for inference, never for training."""
    for module in generator.modules():
        if isinstance(module, WeightNormed):
            module.remove_weight_norm()
    return generator.eval()
