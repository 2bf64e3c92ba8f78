"""Residual coupling flow between the posterior latent z and the prior space z_p."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from provoice.tts.model.modules import WN, Flip


class ResidualCouplingLayer(nn.Module):
    """Mean-only affine coupling: shifts the second half by a WaveNet function of the first half.

    The output projection starts at zero so a fresh layer is the identity.
    """

    def __init__(
        self, channels: int, hidden_channels: int, kernel_size: int, dilation_rate: int, n_layers: int
    ) -> None:
        super().__init__()
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden_channels, 1)
        self.enc = WN(hidden_channels, kernel_size, dilation_rate, n_layers)
        self.post = nn.Conv1d(hidden_channels, self.half_channels, 1)
        nn.init.zeros_(self.post.weight)
        nn.init.zeros_(cast(torch.Tensor, self.post.bias))

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, cond: torch.Tensor | None = None, reverse: bool = False
    ) -> torch.Tensor:
        x0, x1 = torch.split(x, [self.half_channels] * 2, 1)
        h = self.pre(x0) * x_mask
        if cond is not None:
            h = h + cond * x_mask
        m = self.post(self.enc(h, x_mask)) * x_mask
        x1 = (x1 - m) * x_mask if reverse else m + x1 * x_mask
        return torch.cat([x0, x1], 1)


class ResidualCouplingBlock(nn.Module):
    """`n_flows` coupling layers, each followed by a channel flip (volume preserving, log|det| 0).

    `conds` (optional) holds one voice bias per coupling layer.
    """

    def __init__(
        self, channels: int, hidden_channels: int, kernel_size: int, dilation_rate: int, n_layers: int, n_flows: int = 4
    ) -> None:
        super().__init__()
        self.flows = nn.ModuleList()
        for _ in range(n_flows):
            self.flows.append(ResidualCouplingLayer(channels, hidden_channels, kernel_size, dilation_rate, n_layers))
            self.flows.append(Flip())

    def forward(
        self,
        x: torch.Tensor,
        x_mask: torch.Tensor,
        conds: list[torch.Tensor] | None = None,
        reverse: bool = False,
    ) -> torch.Tensor:
        steps = list(enumerate(self.flows))
        if reverse:
            steps.reverse()
        for i, flow in steps:
            if isinstance(flow, Flip):
                x = torch.flip(x, [1])
            else:
                x = flow(x, x_mask, cond=conds[i // 2] if conds is not None else None, reverse=reverse)
        return x
