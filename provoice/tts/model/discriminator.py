"""HiFi-GAN discriminators: one waveform-scale discriminator plus one per period."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from provoice.tts.model.layers import WNConv1d, WNConv2d, get_padding

LRELU_SLOPE = 0.1


class DiscriminatorS(nn.Module):
    """Strided grouped 1-d convolutions over the raw waveform."""

    def __init__(self, channels: Sequence[int], groups: Sequence[int]) -> None:
        super().__init__()
        kernels = [15] + [41] * (len(channels) - 2) + [5]
        strides = [1] + [4] * (len(channels) - 2) + [1]
        self.convs = nn.ModuleList()
        in_ch = 1
        for out_ch, k, s, g in zip(channels, kernels, strides, groups):
            self.convs.append(WNConv1d(in_ch, out_ch, k, s, groups=g, padding=k // 2))
            in_ch = out_ch
        self.conv_post = WNConv1d(in_ch, 1, 3, 1, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class DiscriminatorP(nn.Module):
    """2-d convolutions over the waveform folded into [T / period, period]."""

    def __init__(self, period: int, channels: Sequence[int], kernel_size: int = 5, stride: int = 3) -> None:
        super().__init__()
        self.period = period
        self.convs = nn.ModuleList()
        in_ch = 1
        for i, out_ch in enumerate(channels):
            last = i == len(channels) - 1
            self.convs.append(
                WNConv2d(
                    in_ch,
                    out_ch,
                    (kernel_size, 1),
                    (1 if last else stride, 1),
                    padding=(get_padding(kernel_size, 1), 0),
                )
            )
            in_ch = out_ch
        self.conv_post = WNConv2d(in_ch, 1, (3, 1), 1, padding=(1, 0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            n_pad = self.period - t % self.period
            x = F.pad(x, (0, n_pad), "reflect")
            t += n_pad
        x = x.view(b, c, t // self.period, self.period)
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class MultiPeriodDiscriminator(nn.Module):
    """`discriminators.0` is the scale discriminator, `discriminators.1..` the period ones."""

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        scale_channels: Sequence[int] = (16, 64, 256, 1024, 1024, 1024),
        scale_groups: Sequence[int] = (1, 4, 16, 64, 256, 1),
        period_channels: Sequence[int] = (32, 128, 512, 1024, 1024),
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            [DiscriminatorS(scale_channels, scale_groups)] + [DiscriminatorP(p, period_channels) for p in periods]
        )

    def forward(
        self, y: torch.Tensor, y_hat: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[list[torch.Tensor]], list[list[torch.Tensor]]]:
        """Scores and feature maps for real `y` and generated `y_hat` ([B, 1, T] each)."""
        n = y.size(0)
        real_scores, fake_scores, real_fmaps, fake_fmaps = [], [], [], []
        for disc in self.discriminators:
            score, fmap = disc(torch.cat([y, y_hat], 0))
            real_scores.append(score[:n])
            fake_scores.append(score[n:])
            real_fmaps.append([f[:n] for f in fmap])
            fake_fmaps.append([f[n:] for f in fmap])
        return real_scores, fake_scores, real_fmaps, fake_fmaps
