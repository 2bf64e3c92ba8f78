"""Monotonic alignment search and hard-path helpers."""

from __future__ import annotations

import itertools

import torch

from provoice.tts.model.alignment import maximum_path
from provoice.tts.model.commons import generate_path, sequence_mask


def brute_force_best(scores: torch.Tensor) -> float:
    """Best total over all monotonic surjective alignments (tiny sizes only)."""
    t_y, t_x = scores.shape
    best = float("-inf")
    for advances in itertools.combinations(range(1, t_y), t_x - 1):
        token, total = 0, 0.0
        for y in range(t_y):
            if y in advances:
                token += 1
            total += float(scores[y, token])
        best = max(best, total)
    return best


def check_valid(path: torch.Tensor, t_y: int, t_x: int) -> None:
    assert torch.all(path[t_y:] == 0) and torch.all(path[:, t_x:] == 0)
    inner = path[:t_y, :t_x]
    assert torch.all(inner.sum(1) == 1), "every frame maps to exactly one token"
    tokens = inner.argmax(1)
    steps = tokens[1:] - tokens[:-1]
    assert torch.all((steps == 0) | (steps == 1)), "monotonic, one token at a time"
    assert tokens[0] == 0 and tokens[-1] == t_x - 1
    assert torch.all(inner.sum(0) >= 1), "every token gets a frame"


def test_paths_are_valid_and_optimal():
    torch.manual_seed(0)
    y_lens, x_lens = torch.tensor([9, 7, 5]), torch.tensor([4, 4, 2])
    scores = torch.randn(3, 9, 4) * 3
    mask = (sequence_mask(y_lens, 9).unsqueeze(2) & sequence_mask(x_lens, 4).unsqueeze(1)).float()
    path = maximum_path(scores, mask)
    assert path.shape == scores.shape and path.dtype == scores.dtype
    for b in range(3):
        t_y, t_x = int(y_lens[b]), int(x_lens[b])
        check_valid(path[b], t_y, t_x)
        found = float((path[b] * scores[b])[:t_y, :t_x].sum())
        assert abs(found - brute_force_best(scores[b, :t_y, :t_x])) < 1e-4


def test_generate_path_expands_durations():
    durations = torch.tensor([[[2.0, 1.0, 3.0]]])
    mask = torch.ones(1, 1, 6, 3)
    path = generate_path(durations, mask)[0, 0]
    assert path.argmax(1).tolist() == [0, 0, 1, 2, 2, 2]
    assert torch.all(path.sum(1) == 1)
