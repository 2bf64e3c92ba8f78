"""Monotonic alignment search (Glow-TTS / VITS): the most likely monotonic, surjective alignment
of spectrogram frames to text tokens, by dynamic programming vectorised over the batch.

The search runs in torch on the tensors' own device, so on a GPU nothing is copied to the host and
back on every step (one small kernel per frame instead of a round trip); float64 on the CPU.
"""

from __future__ import annotations

import torch

_NEG = -1e9


def maximum_path(neg_cent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Best hard alignment.

    neg_cent: [B, T_y, T_x] log-likelihood of frame y under token x.
    mask: [B, T_y, T_x], 1 inside (frames < y_len) x (tokens < x_len).
    Returns a 0/1 path [B, T_y, T_x] (same dtype and device as `neg_cent`): every valid frame maps
    to exactly one token, token indices never decrease and advance by at most one per frame, the
    path starts at token 0 and ends at the last token.
    """
    device = neg_cent.device
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    value = (neg_cent.detach() * mask).to(dtype)
    mask = mask.detach()
    t_ys = mask.sum(1)[:, 0].long()
    t_xs = mask.sum(2)[:, 0].long()
    b, t_y, t_x = value.shape
    xs = torch.arange(t_x, device=device)
    batch = torch.arange(b, device=device)
    neg = torch.full((b, 1), _NEG, device=device, dtype=dtype)
    first = torch.where(xs == 0, 0.0, _NEG).to(dtype).expand(b, t_x)
    low = t_xs - t_ys  # the first token frame y may use is low + y (the rest must fit the frames left)
    prev = torch.full((b, t_x), _NEG, device=device, dtype=dtype)
    for y in range(t_y):
        if y == 0:
            best = first
        else:
            stay = torch.where(xs == y, _NEG, prev)
            advance = torch.cat([neg, prev[:, :-1]], dim=1)
            best = torch.maximum(stay, advance)
        valid = (xs[None, :] < torch.clamp_max(t_xs, y + 1)[:, None]) & (xs[None, :] >= (low + y)[:, None])
        prev = torch.where(valid, value[:, y] + best, torch.full_like(best, _NEG))
        value[:, y] = prev

    path = torch.zeros((b, t_y, t_x), device=device, dtype=neg_cent.dtype)
    index = t_xs - 1
    for y in range(t_y - 1, -1, -1):
        active = y < t_ys
        path[batch[active], y, index[active]] = 1.0
        if y == 0:
            break
        here = value[batch, y - 1, torch.clamp(index, 0, t_x - 1)]
        left = value[batch, y - 1, torch.clamp(index - 1, 0, t_x - 1)]
        move = active & (index != 0) & ((index == y) | (here < left))
        index = index - move.long()
    return path
