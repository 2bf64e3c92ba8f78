"""Duration predictors: the stochastic flow-based one Piper uses (`use_sdp`) and the plain regressor."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from provoice.tts.model.layers import LayerNorm
from provoice.tts.model.modules import ConvFlow, DDSConv, ElementwiseAffine, Flip, Log


def _flow_stack(channels: int, kernel_size: int, n_flows: int) -> nn.ModuleList:
    flows = nn.ModuleList([ElementwiseAffine(2)])
    for _ in range(n_flows):
        flows.append(ConvFlow(2, channels, kernel_size, n_layers=3))
        flows.append(Flip())
    return flows


class StochasticDurationPredictor(nn.Module):
    """Normalising flow over log-durations conditioned on the text encoder's hidden states.

    Training returns a variational bound on -log p(durations) per utterance (variational
    dequantisation through `post_*`); `reverse=True` samples log-durations with `noise_scale`.
    `cond` ([B, C, 1]) is a voice bias added after `pre`.
    """

    def __init__(self, in_channels: int, kernel_size: int, p_dropout: float, n_flows: int = 4) -> None:
        super().__init__()
        channels = in_channels
        self.log_flow = Log()
        self.flows = _flow_stack(channels, kernel_size, n_flows)
        self.post_pre = nn.Conv1d(1, channels, 1)
        self.post_proj = nn.Conv1d(channels, channels, 1)
        self.post_convs = DDSConv(channels, kernel_size, n_layers=3, p_dropout=p_dropout)
        self.post_flows = _flow_stack(channels, kernel_size, n_flows)
        self.pre = nn.Conv1d(in_channels, channels, 1)
        self.proj = nn.Conv1d(channels, channels, 1)
        self.convs = DDSConv(channels, kernel_size, n_layers=3, p_dropout=p_dropout)

    def forward(
        self,
        x: torch.Tensor,
        x_mask: torch.Tensor,
        w: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
        reverse: bool = False,
        noise_scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Negative log-likelihood bound [B] of durations `w` [B, 1, T], or sampled log-durations
        (noise drawn from `generator` when given, else the global stream)."""
        h = self.pre(torch.detach(x))
        if cond is not None:
            h = h + cond
        h = self.proj(self.convs(h, x_mask)) * x_mask

        if reverse:
            flows = list(reversed(self.flows))
            # The first ConvFlow only acts on the dequantisation channel, which is discarded.
            flows = [*flows[:-2], flows[-1]]
            z = torch.randn(x.size(0), 2, x.size(2), device=x.device, dtype=x.dtype, generator=generator) * noise_scale
            for flow in flows:
                z = flow(z, x_mask, g=h, reverse=True)
            return z[:, :1]

        if w is None:
            raise ValueError("durations `w` are required when reverse=False")
        h_w = self.post_proj(self.post_convs(self.post_pre(w), x_mask)) * x_mask
        e_q = torch.randn(w.size(0), 2, w.size(2), device=x.device, dtype=x.dtype) * x_mask
        z_q = e_q
        logdet_q = torch.zeros(w.size(0), device=x.device, dtype=x.dtype)
        for flow in self.post_flows:
            z_q, logdet = flow(z_q, x_mask, g=h + h_w)
            logdet_q = logdet_q + logdet
        z_u, z1 = torch.split(z_q, [1, 1], 1)
        u = torch.sigmoid(z_u) * x_mask
        z0 = (w - u) * x_mask
        logdet_q = logdet_q + torch.sum((F.logsigmoid(z_u) + F.logsigmoid(-z_u)) * x_mask, [1, 2])
        log_q = torch.sum(-0.5 * (math.log(2 * math.pi) + e_q**2) * x_mask, [1, 2]) - logdet_q

        z0, logdet_tot = self.log_flow(z0, x_mask)
        z = torch.cat([z0, z1], 1)
        for flow in self.flows:
            z, logdet = flow(z, x_mask, g=h)
            logdet_tot = logdet_tot + logdet
        nll = torch.sum(0.5 * (math.log(2 * math.pi) + z**2) * x_mask, [1, 2]) - logdet_tot
        return nll + log_q


class DurationPredictor(nn.Module):
    """Deterministic log-duration regressor (two conv + LayerNorm blocks)."""

    def __init__(self, in_channels: int, filter_channels: int, kernel_size: int, p_dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(p_dropout)
        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.norm_1 = LayerNorm(filter_channels)
        self.conv_2 = nn.Conv1d(filter_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.norm_2 = LayerNorm(filter_channels)
        self.proj = nn.Conv1d(filter_channels, 1, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Log-durations [B, 1, T]."""
        x = torch.detach(x)
        if cond is not None:
            x = x + cond
        x = self.drop(self.norm_1(torch.relu(self.conv_1(x * x_mask))))
        x = self.drop(self.norm_2(torch.relu(self.conv_2(x * x_mask))))
        return self.proj(x * x_mask) * x_mask
