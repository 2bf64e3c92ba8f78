"""Fixtures for the VITS tests: the Piper reference tensor list and small shared helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

#: In the repository (see reference/README.md), so the Piper layout tests never depend on a folder beside it.
REFERENCE_DIR = Path(__file__).parent / "reference"
STATE_DICT_TSV = REFERENCE_DIR / "piper-vits-medium-state-dict.tsv"


def _parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip().strip("()").split(",") if part.strip())


@pytest.fixture(scope="session")
def piper_reference() -> dict[str, dict[str, tuple[int, ...]]]:
    """{'generator': {key: shape}, 'discriminator': {key: shape}} in file order."""
    tables: dict[str, dict[str, tuple[int, ...]]] = {"generator": {}, "discriminator": {}}
    lines = STATE_DICT_TSV.read_text().splitlines()
    assert lines[0].split("\t") == ["module", "name", "shape"]
    for line in lines[1:]:
        module, name, shape = line.split("\t")
        tables[module][name] = _parse_shape(shape)
    return tables


@pytest.fixture
def single_thread():
    """Deterministic, polite CPU use: one intra-op thread for the duration of a test."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
