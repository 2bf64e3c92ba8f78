"""Monotonic rational-quadratic spline (Durkan et al., 2019, "Neural Spline Flows") with identity
tails, the invertible element-wise map inside the stochastic duration predictor's flows."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3


def _knots(unnormalized: torch.Tensor, bound: float, min_size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin edges [.., K+1] spanning [-bound, bound] and bin sizes [.., K] from unnormalised logits."""
    n_bins = unnormalized.shape[-1]
    sizes = min_size + (1 - min_size * n_bins) * F.softmax(unnormalized, dim=-1)
    edges = F.pad(torch.cumsum(sizes, dim=-1), (1, 0), value=0.0)
    edges = 2 * bound * edges - bound
    ends = torch.ones_like(edges[..., :1]) * bound
    edges = torch.cat([-ends, edges[..., 1:-1], ends], -1)
    return edges, edges[..., 1:] - edges[..., :-1]


def _bin_index(edges: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Index of the bin holding each value; the last edge is nudged up so `bound` falls inside."""
    edges = torch.cat([edges[..., :-1], edges[..., -1:] + 1e-6], -1)
    return (values.unsqueeze(-1) >= edges).sum(dim=-1, keepdim=True) - 1


def rational_quadratic_spline(
    inputs: torch.Tensor,
    unnormalized_widths: torch.Tensor,
    unnormalized_heights: torch.Tensor,
    unnormalized_derivatives: torch.Tensor,
    inverse: bool = False,
    tail_bound: float = 5.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the spline element-wise; identity (log|det| 0) outside [-tail_bound, tail_bound].

    `unnormalized_derivatives` has K-1 entries (interior knots); the boundary derivatives are 1
    so the spline joins the identity tails smoothly. Returns (outputs, log|d out / d in|).
    """
    inside = (inputs >= -tail_bound) & (inputs <= tail_bound)
    x = inputs.clamp(-tail_bound, tail_bound)

    boundary = math.log(math.exp(1 - MIN_DERIVATIVE) - 1)
    derivatives = F.pad(unnormalized_derivatives, (1, 1), value=boundary)
    derivatives = MIN_DERIVATIVE + F.softplus(derivatives)
    cumwidths, widths = _knots(unnormalized_widths, tail_bound, MIN_BIN_WIDTH)
    cumheights, heights = _knots(unnormalized_heights, tail_bound, MIN_BIN_HEIGHT)

    idx = _bin_index(cumheights if inverse else cumwidths, x)

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t.gather(-1, idx).squeeze(-1)

    x_k, w_k = pick(cumwidths), pick(widths)
    y_k, h_k = pick(cumheights), pick(heights)
    s_k = h_k / w_k
    d_k, d_k1 = pick(derivatives), pick(derivatives[..., 1:])
    slope_sum = d_k + d_k1 - 2 * s_k

    if inverse:
        dy = x - y_k
        a = dy * slope_sum + h_k * (s_k - d_k)
        b = h_k * d_k - dy * slope_sum
        c = -s_k * dy
        disc = (b.pow(2) - 4 * a * c).clamp_min(0)
        theta = (2 * c) / (-b - torch.sqrt(disc))
        out = theta * w_k + x_k
    else:
        theta = (x - x_k) / w_k
        out = y_k + h_k * (s_k * theta.pow(2) + d_k * theta * (1 - theta)) / (s_k + slope_sum * theta * (1 - theta))

    t1t = theta * (1 - theta)
    denominator = s_k + slope_sum * t1t
    numerator = s_k.pow(2) * (d_k1 * theta.pow(2) + 2 * s_k * t1t + d_k * (1 - theta).pow(2))
    logabsdet = torch.log(numerator) - 2 * torch.log(denominator)
    if inverse:
        logabsdet = -logabsdet
    return torch.where(inside, out, inputs), torch.where(inside, logabsdet, torch.zeros_like(logabsdet))
