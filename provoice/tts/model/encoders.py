"""Text (prior) encoder and spectrogram (posterior) encoder of VITS."""

from __future__ import annotations

import math

import torch
from torch import nn

from provoice.tts.model.attention import Encoder
from provoice.tts.model.commons import sequence_mask
from provoice.tts.model.modules import WN


class TextEncoder(nn.Module):
    """Phoneme ids -> hidden states plus the prior's per-token mean and log-std.

    `cond` ([B, hidden, 1]) is a voice bias added to the transformer output, so it reaches both the
    prior statistics and the duration predictor.
    """

    def __init__(
        self,
        n_vocab: int,
        out_channels: int,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        p_dropout: float,
        window_size: int = 4,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.emb = nn.Embedding(n_vocab, hidden_channels)
        nn.init.normal_(self.emb.weight, 0.0, hidden_channels**-0.5)
        self.encoder = Encoder(hidden_channels, filter_channels, n_heads, n_layers, kernel_size, p_dropout, window_size)
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(
        self, x: torch.Tensor, x_lengths: torch.Tensor, cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns hidden [B, H, T], m_p, logs_p [B, C, T] and the mask [B, 1, T]."""
        h = (self.emb(x) * math.sqrt(self.hidden_channels)).transpose(1, -1)
        x_mask = sequence_mask(x_lengths, h.size(2)).unsqueeze(1).to(h.dtype)
        h = self.encoder(h * x_mask, x_mask)
        if cond is not None:
            h = h + cond * x_mask
        stats = self.proj(h) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        return h, m, logs, x_mask


class PosteriorEncoder(nn.Module):
    """Linear spectrogram -> posterior latent z ~ N(m_q, exp(logs_q)) (training only)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        kernel_size: int,
        dilation_rate: int,
        n_layers: int,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.pre = nn.Conv1d(in_channels, hidden_channels, 1)
        self.enc = WN(hidden_channels, kernel_size, dilation_rate, n_layers)
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(
        self, y: torch.Tensor, y_lengths: torch.Tensor, cond: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns a sampled z, m_q, logs_q [B, C, T] and the mask [B, 1, T]."""
        y_mask = sequence_mask(y_lengths, y.size(2)).unsqueeze(1).to(y.dtype)
        h = self.pre(y) * y_mask
        if cond is not None:
            h = h + cond * y_mask
        stats = self.proj(self.enc(h, y_mask)) * y_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        z = (m + torch.randn_like(m) * torch.exp(logs)) * y_mask
        return z, m, logs, y_mask
