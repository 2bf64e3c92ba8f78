"""Training checkpoints in storage and the random-number state they carry.

Checkpoints live at `<prefix>/checkpoints/step-NNNNNNNNN.pt`. Each is written to a local temp
file and moved into storage in one atomic step, so any file under its final name is complete and
the newest one is always safe to resume from. Everything inside loads with `weights_only=True`
(tensors and plain Python data only).
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from provoice.tts.train.store import RunStore

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"/step-(\d{9})\.pt$")


def checkpoint_key(prefix: str, step: int) -> str:
    """Storage key of the checkpoint taken after `step` optimiser steps."""
    return f"{prefix.rstrip('/')}/{CHECKPOINT_DIR}/step-{step:09d}.pt"


def list_checkpoints(storage: RunStore, prefix: str) -> list[tuple[int, str]]:
    """(step, key) of every complete checkpoint under `prefix`, oldest first."""
    found = []
    for key in storage.list(f"{prefix.rstrip('/')}/{CHECKPOINT_DIR}"):
        match = _NAME.search(key)
        if match:
            found.append((int(match.group(1)), key))
    return sorted(found)


def latest_checkpoint(storage: RunStore, prefix: str) -> str | None:
    """Key of the newest checkpoint under `prefix`, or None when the run has none yet."""
    found = list_checkpoints(storage, prefix)
    return found[-1][1] if found else None


def save_state(storage: RunStore, key: str, state: dict[str, Any]) -> str:
    """Write a checkpoint atomically; returns its URI."""
    with storage.staged_output(key) as path:
        torch.save(state, path)
    return storage.uri(key)


def load_state(storage: RunStore, key: str) -> dict[str, Any]:
    """Read a checkpoint onto the CPU."""
    with storage.local_path(key) as path:
        return torch.load(path, map_location="cpu", weights_only=True)


def prune_checkpoints(storage: RunStore, prefix: str, keep: int) -> None:
    """Delete all but the newest `keep` (at least one) checkpoints."""
    stale = list_checkpoints(storage, prefix)[: -max(keep, 1)]
    for _, key in stale:
        storage.delete(key)


def capture_rng() -> dict[str, Any]:
    """State of every random generator a training step can draw from."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng`; CUDA states are restored only onto as many devices as were saved."""
    random.setstate(_as_tuple(state["python"]))
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["name"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (validation, previews) without moving any training random stream."""
    state = capture_rng()
    try:
        yield
    finally:
        restore_rng(state)


def _as_tuple(value: Any) -> Any:
    """`random.setstate` needs tuples all the way down."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuple(v) for v in value)
    return value
