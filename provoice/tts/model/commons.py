"""Mask, path and segment helpers used by the VITS model and its training step."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sequence_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """Boolean [B, T] mask, True inside each sequence."""
    if max_length is None:
        max_length = int(lengths.max())
    positions = torch.arange(max_length, dtype=lengths.dtype, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def generate_path(durations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hard alignment [B, 1, T_y, T_x] from integer durations [B, 1, T_x] (frames per token)."""
    b, _, t_y, t_x = mask.shape
    ends = torch.cumsum(durations, -1).view(b * t_x)
    path = sequence_mask(ends, t_y).view(b, t_x, t_y).to(mask.dtype)
    path = path - F.pad(path, [0, 0, 1, 0])[:, :-1]
    return path.unsqueeze(1).transpose(2, 3) * mask


def slice_segments(x: torch.Tensor, starts: torch.Tensor, segment_size: int) -> torch.Tensor:
    """Cut [B, C, segment_size] windows out of [B, C, T] starting at `starts` [B]."""
    offsets = torch.arange(segment_size, device=x.device)
    index = (starts.to(x.device).long().unsqueeze(1) + offsets).unsqueeze(1).expand(-1, x.size(1), -1)
    return torch.gather(x, 2, index)


def rand_slice_segments(x: torch.Tensor, lengths: torch.Tensor, segment_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of `segment_size` frames inside each sequence; short inputs are zero-padded."""
    if x.size(2) < segment_size:
        x = F.pad(x, (0, segment_size - x.size(2)))
    max_start = (lengths - segment_size + 1).clamp_min(1)
    starts = (torch.rand(x.size(0), device=x.device) * max_start.to(x.device)).long()
    return slice_segments(x, starts, segment_size), starts
