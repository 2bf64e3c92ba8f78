"""Read and write Piper training checkpoints (PyTorch Lightning `.ckpt` files).

Layout: `checkpoint["state_dict"]` holds `model_g.<generator key>` and `model_d.<discriminator
key>`. Loading is strict: any missing, unexpected or mis-shaped tensor raises `CheckpointError`
naming it. ProVoice's voice-conditioning parameters are the only allowed extras: they are read
from `model_g.voice.*` or from the separate `provoice_extras` entry that `save_piper_checkpoint`
writes, so the saved `state_dict` stays loadable by Piper itself.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from provoice.tts.errors import CheckpointError
from provoice.tts.model.synthesizer import EXTRA_PREFIXES, SynthesizerTrn

GENERATOR_PREFIX = "model_g."
DISCRIMINATOR_PREFIX = "model_d."
EXTRAS_KEY = "provoice_extras"
_SHOWN = 10


@dataclass
class CheckpointInfo:
    """What a load found besides the weights."""

    metadata: dict[str, Any] = field(default_factory=dict)
    discriminator_loaded: bool = False
    fresh_extras: list[str] = field(default_factory=list)

    @property
    def global_step(self) -> int:
        return int(self.metadata.get("global_step", 0))

    @property
    def epoch(self) -> int:
        return int(self.metadata.get("epoch", 0))


def read_checkpoint(source: str | Path | Mapping[str, Any], *, trusted: bool = False) -> Mapping[str, Any]:
    """The checkpoint dict. Files load with `weights_only=True` unless `trusted` (arbitrary pickles)."""
    if isinstance(source, Mapping):
        checkpoint = source
    else:
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path} does not exist")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=not trusted)
        except pickle.UnpicklingError as exc:
            if not zipfile.is_zipfile(path):
                raise CheckpointError(f"checkpoint {path} is not a PyTorch checkpoint file") from exc
            raise CheckpointError(
                f"checkpoint {path} holds Python objects beyond tensors and plain data; "
                f"load it with trusted=True only if you trust its origin ({_unpickler_reason(exc)})"
            ) from exc
        except (RuntimeError, EOFError, OSError) as exc:
            raise CheckpointError(f"checkpoint {path} cannot be read: {exc}") from exc
    state = checkpoint.get("state_dict") if isinstance(checkpoint, Mapping) else None
    if not isinstance(state, Mapping):
        raise CheckpointError("not a Piper checkpoint: expected a dict with a 'state_dict' mapping")
    return checkpoint


def _unpickler_reason(exc: Exception) -> str:
    """The informative line of torch's long weights-only refusal (e.g. which global it met)."""
    found = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
    return (found.group(1) if found else str(exc).splitlines()[0]).strip()


def load_piper_checkpoint(
    source: str | Path | Mapping[str, Any],
    generator: SynthesizerTrn,
    discriminator: nn.Module | None = None,
    *,
    trusted: bool = False,
) -> CheckpointInfo:
    """Load generator (and discriminator, if given) weights strictly, in place."""
    checkpoint = read_checkpoint(source, trusted=trusted)
    state: Mapping[str, Any] = checkpoint["state_dict"]
    gen_state = {k[len(GENERATOR_PREFIX) :]: v for k, v in state.items() if k.startswith(GENERATOR_PREFIX)}
    disc_state = {k[len(DISCRIMINATOR_PREFIX) :]: v for k, v in state.items() if k.startswith(DISCRIMINATOR_PREFIX)}
    foreign = [k for k in state if not k.startswith((GENERATOR_PREFIX, DISCRIMINATOR_PREFIX))]
    extras = dict(checkpoint.get(EXTRAS_KEY) or {})
    extras.update({k: v for k, v in gen_state.items() if k.startswith(EXTRA_PREFIXES)})
    gen_state = {k: v for k, v in gen_state.items() if not k.startswith(EXTRA_PREFIXES)}

    problems = _Problems()
    problems.unexpected.extend(foreign)
    problems.compare(GENERATOR_PREFIX, generator.piper_state_dict(), gen_state)
    model_extras = generator.extra_state_dict()
    problems.compare(GENERATOR_PREFIX, model_extras, extras, allow_missing=True)
    if discriminator is not None:
        if not disc_state:
            raise CheckpointError("checkpoint has no discriminator weights (no 'model_d.' keys)")
        problems.compare(DISCRIMINATOR_PREFIX, discriminator.state_dict(), disc_state)
    problems.raise_if_any()

    fresh = sorted(set(model_extras) - set(extras))
    generator.load_state_dict({**gen_state, **extras}, strict=not fresh)
    if discriminator is not None:
        discriminator.load_state_dict(disc_state, strict=True)
    metadata = {k: v for k, v in checkpoint.items() if k not in ("state_dict", EXTRAS_KEY)}
    return CheckpointInfo(metadata=metadata, discriminator_loaded=discriminator is not None, fresh_extras=fresh)


def save_piper_checkpoint(
    path: str | Path,
    generator: SynthesizerTrn,
    discriminator: nn.Module | None = None,
    *,
    global_step: int = 0,
    epoch: int = 0,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint in Piper's layout; `metadata` (e.g. a loaded checkpoint's
    hyper_parameters and Lightning version) is carried over verbatim."""
    state = {GENERATOR_PREFIX + k: v.detach().cpu() for k, v in generator.piper_state_dict().items()}
    if discriminator is not None:
        state.update({DISCRIMINATOR_PREFIX + k: v.detach().cpu() for k, v in discriminator.state_dict().items()})
    checkpoint: dict[str, Any] = dict(metadata or {})
    checkpoint.update(
        state_dict=state,
        global_step=global_step,
        epoch=epoch,
        provoice_config=generator.config.to_dict(),
    )
    extras = {k: v.detach().cpu() for k, v in generator.extra_state_dict().items()}
    if extras:
        checkpoint[EXTRAS_KEY] = extras
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)
    return path


@dataclass
class _Problems:
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mis_shaped: list[str] = field(default_factory=list)

    def compare(
        self,
        prefix: str,
        expected: Mapping[str, torch.Tensor],
        found: Mapping[str, Any],
        allow_missing: bool = False,
    ) -> None:
        if not allow_missing:
            self.missing.extend(prefix + k for k in expected if k not in found)
        for key, value in found.items():
            if key not in expected:
                self.unexpected.append(prefix + key)
            elif not isinstance(value, torch.Tensor):
                self.mis_shaped.append(f"{prefix}{key} (not a tensor: {type(value).__name__})")
            elif tuple(value.shape) != tuple(expected[key].shape):
                self.mis_shaped.append(
                    f"{prefix}{key} (checkpoint {tuple(value.shape)}, model {tuple(expected[key].shape)})"
                )

    def raise_if_any(self) -> None:
        parts = []
        groups = (("missing", self.missing), ("unexpected", self.unexpected), ("mis-shaped", self.mis_shaped))
        for label, keys in groups:
            if keys:
                shown = ", ".join(keys[:_SHOWN])
                more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
                parts.append(f"{len(keys)} {label}: {shown}{more}")
        if parts:
            raise CheckpointError("checkpoint does not fit the model; " + "; ".join(parts))
