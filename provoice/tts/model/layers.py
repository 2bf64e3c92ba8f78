"""Building blocks shared by all VITS parts: channel-first LayerNorm and weight-normed convolutions.

Weight norm is implemented here (parameters `weight_g` / `weight_v`) rather than with torch's
deprecated hook so that state-dict keys match Piper checkpoints on every torch version.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding for an odd kernel with dilation."""
    return (kernel_size * dilation - dilation) // 2


class LayerNorm(nn.Module):
    """LayerNorm over the channel axis of [B, C, T] tensors (Piper names: gamma, beta)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, -1)
        x = F.layer_norm(x, (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


def _norm_except_dim0(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))


class WeightNormed:
    """Mixin: replaces `weight` by `weight_g * weight_v / ||weight_v||` (norm over all dims but 0)."""

    _parameters: dict[str, nn.Parameter | None]
    weight: torch.Tensor
    weight_g: nn.Parameter
    weight_v: nn.Parameter

    def _init_weight_norm(self, init_std: float | None) -> None:
        weight = self._parameters.pop("weight")
        if weight is None:
            raise ValueError("a weight-normed layer needs a weight")
        with torch.no_grad():
            if init_std is not None:
                weight.normal_(0.0, init_std)
            self.weight_g = nn.Parameter(_norm_except_dim0(weight).clone())
            self.weight_v = nn.Parameter(weight.detach().clone())

    def normed_weight(self) -> torch.Tensor:
        """The effective convolution weight."""
        weight = self._parameters.get("weight")
        if weight is not None:
            return weight
        return self.weight_g * self.weight_v / _norm_except_dim0(self.weight_v)

    @torch.no_grad()
    def remove_weight_norm(self) -> None:
        """Fold the norm into a plain `weight` (inference and ONNX export): the state-dict keys
        become `<name>.weight`, as in Piper's ONNX voices."""
        if "weight" in self._parameters:
            return
        weight = self.normed_weight().detach().clone()
        del self.weight_g, self.weight_v
        self.weight = nn.Parameter(weight)

    @torch.no_grad()
    def set_weight(self, weight: torch.Tensor) -> None:
        """Set the effective weight (used when importing weights with the norm folded in)."""
        self.weight_v.copy_(weight)
        self.weight_g.copy_(_norm_except_dim0(weight))


class WNConv1d(WeightNormed, nn.Conv1d):
    """Conv1d with weight normalisation."""

    def __init__(self, *args, init_std: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_weight_norm(init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normed_weight(), self.bias)


class WNConv2d(WeightNormed, nn.Conv2d):
    """Conv2d with weight normalisation."""

    def __init__(self, *args, init_std: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_weight_norm(init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normed_weight(), self.bias)


class WNConvTranspose1d(WeightNormed, nn.ConvTranspose1d):
    """ConvTranspose1d with weight normalisation (norm over dim 0, the input channels)."""

    def __init__(self, *args, init_std: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_weight_norm(init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]  # no output_size: fixed shapes
        return F.conv_transpose1d(
            x,
            self.normed_weight(),
            self.bias,
            self.stride,
            cast(tuple[int, ...], self.padding),
            self.output_padding,
            self.groups,
            self.dilation,
        )
