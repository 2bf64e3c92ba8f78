"""Invertibility of the spline, coupling flows and the duration predictor's sampling path."""

from __future__ import annotations

import torch

from provoice.tts.model.coupling import ResidualCouplingBlock
from provoice.tts.model.duration import StochasticDurationPredictor
from provoice.tts.model.spline import rational_quadratic_spline


def test_spline_inverts_and_is_identity_outside_tails():
    torch.manual_seed(0)
    x = torch.linspace(-7, 7, 57).view(1, 57)
    # One spline shared by all positions, so its monotonicity shows along x.
    widths, heights = torch.randn(10).expand(1, 57, 10), torch.randn(10).expand(1, 57, 10)
    derivatives = torch.randn(9).expand(1, 57, 9)
    y, logdet = rational_quadratic_spline(x, widths, heights, derivatives, tail_bound=5.0)
    back, logdet_inv = rational_quadratic_spline(y, widths, heights, derivatives, inverse=True, tail_bound=5.0)
    assert torch.allclose(back, x, atol=1e-4)
    assert torch.allclose(logdet, -logdet_inv, atol=1e-4)
    outside = x.abs() > 5
    assert torch.equal(y[outside], x[outside]) and torch.all(logdet[outside] == 0)
    assert torch.all(y[:, 1:] > y[:, :-1]), "monotonic"


def test_coupling_block_inverts():
    torch.manual_seed(0)
    flow = ResidualCouplingBlock(8, 16, 5, 1, 2, n_flows=4)
    for layer in flow.flows[::2]:
        torch.nn.init.normal_(layer.post.weight, std=0.3)
    x, mask = torch.randn(2, 8, 11), torch.ones(2, 1, 11)
    mask[1, :, 7:] = 0
    x = x * mask
    z = flow(x, mask)
    assert not torch.allclose(z, x)
    assert torch.allclose(flow(z, mask, reverse=True), x, atol=1e-5)


def test_stochastic_duration_predictor_runs_both_ways():
    torch.manual_seed(0)
    dp = StochasticDurationPredictor(16, 3, 0.0, n_flows=2)
    for flow in list(dp.flows) + list(dp.post_flows):
        if hasattr(flow, "proj"):
            torch.nn.init.normal_(flow.proj.weight, std=0.1)
    h, mask = torch.randn(2, 16, 6), torch.ones(2, 1, 6)
    nll = dp(h, mask, torch.randint(1, 5, (2, 1, 6)).float())
    assert nll.shape == (2,) and torch.isfinite(nll).all()
    logw = dp(h, mask, reverse=True, noise_scale=0.0)
    assert logw.shape == (2, 1, 6) and torch.isfinite(logw).all()
