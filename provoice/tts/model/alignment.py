"""Monotonic alignment search (Glow-TTS / VITS): the most likely monotonic, surjective alignment
of spectrogram frames to text tokens, by dynamic programming vectorised over the batch."""

from __future__ import annotations

import numpy as np
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
    value = (neg_cent.detach() * mask).to("cpu", torch.float64).numpy()
    mask_np = mask.detach().to("cpu").numpy()
    t_ys = mask_np.sum(1)[:, 0].astype(np.int64)
    t_xs = mask_np.sum(2)[:, 0].astype(np.int64)
    b, t_y, t_x = value.shape
    xs = np.arange(t_x)
    batch = np.arange(b)

    prev = np.full((b, t_x), _NEG)
    for y in range(t_y):
        if y == 0:
            best = np.where(xs == 0, 0.0, _NEG)[None, :].repeat(b, 0)
        else:
            stay = np.where(xs == y, _NEG, prev)
            advance = np.concatenate([np.full((b, 1), _NEG), prev[:, :-1]], axis=1)
            best = np.maximum(stay, advance)
        valid = (xs[None, :] < np.minimum(t_xs, y + 1)[:, None]) & (xs[None, :] >= (t_xs + y - t_ys)[:, None])
        prev = np.where(valid, value[:, y] + best, _NEG)
        value[:, y] = prev

    path = np.zeros((b, t_y, t_x), dtype=np.float32)
    index = t_xs - 1
    for y in range(t_y - 1, -1, -1):
        active = y < t_ys
        path[batch[active], y, index[active]] = 1.0
        if y == 0:
            break
        here = value[batch, y - 1, np.clip(index, 0, t_x - 1)]
        left = value[batch, y - 1, np.clip(index - 1, 0, t_x - 1)]
        move = active & (index != 0) & ((index == y) | (here < left))
        index = index - move.astype(np.int64)
    return torch.from_numpy(path).to(device=neg_cent.device, dtype=neg_cent.dtype)
