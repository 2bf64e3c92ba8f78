"""Versioned base models: weights in storage under `base-models/<id>/`, one catalog row each.

A base model is immutable once registered: registering the same id again with the same content
(same fingerprint) returns the existing one, with other content it is an error. Blobs are written
first and `config.json` last, and only then the catalog row, so a crash never leaves a model that
is listed but incomplete. `latest` is the pinned model if one is pinned, else the newest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from provoice.catalog import BaseModelRecord, Catalog
from provoice.catalog.base_models import add_base_model, find_base_model, list_base_models, pin_base_model
from provoice.errors import NotFound
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import CheckpointError, RegistryError
from provoice.tts.formats import BaseModelMeta

if TYPE_CHECKING:  # torch is the train extra's: the serving process lists base models without it
    from torch import nn

    from provoice.tts import SynthesizerTrn
    from provoice.tts.formats import NewBaseModel

PREFIX = "base-models"
GENERATOR_FILE = "generator.ckpt"
DISCRIMINATOR_FILE = "discriminator.ckpt"
META_FILE = "config.json"
LATEST = "latest"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class BaseModelInfo:
    """A catalog entry; `newly_registered` tells a caller whether its call created it."""

    id: str
    kind: str
    source: str
    sample_rate: int
    created_at: datetime
    uri: str
    fingerprint: str
    pinned: bool = False
    latest: bool = False
    summary: dict[str, Any] = field(default_factory=dict)
    newly_registered: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The listing shape: id, latest, source, sample_rate, created_at."""
        return {
            "id": self.id,
            "latest": self.latest,
            "source": self.source,
            "sample_rate": self.sample_rate,
            "created_at": self.created_at.isoformat(),
        }


class LoadedBaseModel(NamedTuple):
    """`generator, discriminator, meta = registry.load(id)`; the discriminator is None when none
    is stored (`meta.discriminator == "fresh"`) or when it was not asked for."""

    generator: SynthesizerTrn
    discriminator: nn.Module | None
    meta: BaseModelMeta


class BaseModelRegistry:
    """Register, list and load base models of one ProVoice installation."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None, storage: Storage | None = None):
        self.settings = settings
        self.catalog = catalog or Catalog(settings)
        self.storage = storage or Storage.from_settings(settings)

    def list(self) -> list[BaseModelInfo]:
        """All base models, oldest first, with `latest` marked."""
        records = list_base_models(self.catalog)
        latest = _latest_record(records)
        return [_info(r, latest is not None and r.id == latest.id) for r in records]

    def get(self, model_id: str) -> BaseModelInfo:
        """One base model by id (or "latest"); `NotFound` says which ids exist."""
        if model_id == LATEST:
            return self.latest()
        record = find_base_model(self.catalog, model_id)
        if record is None:
            known = [r.id for r in list_base_models(self.catalog)]
            hint = f"known: {', '.join(known)}" if known else "none are registered yet"
            raise NotFound(f"no base model {model_id!r} ({hint}; see `provoice base-model list`)")
        latest = _latest_record(list_base_models(self.catalog))
        return _info(record, latest is not None and latest.id == record.id)

    def latest(self) -> BaseModelInfo:
        """The pinned base model, or the newest registered."""
        record = _latest_record(list_base_models(self.catalog))
        if record is None:
            raise NotFound(
                "no base models registered yet: run `provoice base-model import-piper-onnx en_US-joe-medium`"
            )
        return _info(record, True)

    def pin(self, model_id: str | None) -> None:
        """Make `model_id` latest regardless of age; None returns to "the newest is latest"."""
        if model_id is not None:
            self.get(model_id)
        pin_base_model(self.catalog, model_id)

    def meta(self, model_id: str) -> BaseModelMeta:
        """The stored config.json of a base model."""
        info = self.get(model_id)
        key = self._key(info.id, META_FILE)
        if not self.storage.exists(key):
            raise CheckpointError(f"base model {info.id!r} is registered but {self.storage.uri(key)} is missing")
        try:
            data = self.storage.read_json(key)
        except ValueError as exc:
            raise CheckpointError(f"base model metadata {self.storage.uri(key)} is not valid JSON: {exc}") from exc
        return BaseModelMeta.from_json(data, where=self.storage.uri(key))

    def load(self, model_id: str, *, with_discriminator: bool = True) -> LoadedBaseModel:
        """Build the generator (eval mode) and, if stored and wanted, the discriminator, on the CPU."""
        from provoice.tts import SynthesizerTrn, build_discriminator
        from provoice.tts.formats import load_piper_checkpoint

        meta = self.meta(model_id)
        generator = SynthesizerTrn(meta.config)
        discriminator = None
        try:
            with self._local(meta.id, GENERATOR_FILE) as path:
                load_piper_checkpoint(path, generator)
            if with_discriminator and meta.discriminator != "fresh":
                discriminator = build_discriminator(meta.config)
                with self._local(meta.id, DISCRIMINATOR_FILE) as path:
                    _load_discriminator(path, discriminator)
        except CheckpointError as exc:
            raise CheckpointError(f"base model {meta.id!r} cannot be loaded: {exc}") from exc
        return LoadedBaseModel(generator.eval(), discriminator, meta)

    def register(self, model_id: str, new: NewBaseModel) -> BaseModelInfo:
        """Store weights and config, then add the catalog row; idempotent by (id, fingerprint)."""
        existing = self.existing(model_id, new.fingerprint)
        if existing is not None:
            return existing
        if new.discriminator is None and new.discriminator_state != "fresh":
            raise RegistryError("a base model without discriminator weights must have discriminator_state 'fresh'")
        created_at = datetime.now(timezone.utc)
        config = new.generator.config
        meta = BaseModelMeta(
            id=model_id,
            config=config,
            phoneme_id_map={k: list(v) for k, v in new.phoneme_id_map.items()},
            sample_rate=config.sample_rate,
            espeak_voice=new.espeak_voice,
            inference=new.inference,
            source=dict(new.source),
            created_at=created_at.isoformat(),
            discriminator=new.discriminator_state,
            fingerprint=new.fingerprint,
            details=dict(new.details),
        )
        _check_vocabulary(meta)
        from provoice.tts.formats import save_piper_checkpoint

        with self.storage.staged_output(self._key(model_id, GENERATOR_FILE)) as path:
            save_piper_checkpoint(path, new.generator, metadata={"base_model_id": model_id})
        if new.discriminator is not None:
            with self.storage.staged_output(self._key(model_id, DISCRIMINATOR_FILE)) as path:
                _save_discriminator(path, new.discriminator)
        self.storage.write_json(self._key(model_id, META_FILE), meta.to_json())
        record = BaseModelRecord(
            id=model_id,
            kind=str(new.source.get("kind", "unknown")),
            source=describe_source(new.source),
            fingerprint=new.fingerprint,
            sample_rate=config.sample_rate,
            uri=self.storage.uri(f"{PREFIX}/{model_id}"),
            pinned=False,
            summary=_summary(meta),
            created_at=created_at,
        )
        add_base_model(self.catalog, record)
        from provoice.voice_models.distance import measure_base_voice  # it reads this registry

        measure_base_voice(self.settings, model_id, new.generator, meta)
        info = self.get(model_id)
        info.newly_registered = True
        return info

    def existing(self, model_id: str, fingerprint: str) -> BaseModelInfo | None:
        """The registered model if `model_id` already holds this content; an error if other content."""
        validate_model_id(model_id)
        record = find_base_model(self.catalog, model_id)
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise RegistryError(
                f"base model {model_id!r} already exists with different content (from {record.source}); "
                "base models are immutable: register under another id"
            )
        return self.get(model_id)

    def import_piper_onnx(
        self,
        src: str,
        *,
        model_id: str | None = None,
        steps: int = 200,
        seed: int = 0,
        on_step: Callable[[int, int], None] | None = None,
    ) -> BaseModelInfo:
        """Import a Piper ONNX voice (a path or the packaged `en_US-joe-medium`), recovering its
        posterior encoder by distillation; see `provoice.voice_models.importers.build_from_piper_onnx`."""
        from provoice.voice_models import importers

        voice = importers.resolve_onnx_voice(src)
        model_id = model_id or f"piper-{voice.name}-v1"
        fingerprint = importers.onnx_fingerprint(voice, steps, seed)
        found = self.existing(model_id, fingerprint)
        if found is not None:
            return found
        return self.register(model_id, importers.build_from_piper_onnx(voice, steps=steps, seed=seed, on_step=on_step))

    def load_piper_ckpt(
        self,
        path: str | Path,
        *,
        model_id: str | None = None,
        voice_config: str | Path | None = None,
        espeak_voice: str = "en-us",
        trusted: bool = False,
    ) -> BaseModelInfo:
        """Register a Piper Lightning checkpoint (`model_g.` / `model_d.` keys)."""
        from provoice.voice_models import importers

        model_id = model_id or f"piper-ckpt-{Path(path).stem}-v1"
        fingerprint = importers.ckpt_fingerprint(path, voice_config, espeak_voice)
        found = self.existing(model_id, fingerprint)
        if found is not None:
            return found
        new = importers.build_from_piper_ckpt(
            path, voice_config=voice_config, espeak_voice=espeak_voice, trusted=trusted, fingerprint=fingerprint
        )
        return self.register(model_id, new)

    def create_random(self, model_id: str, *, tiny: bool = True, seed: int = 0) -> BaseModelInfo:
        """Register a randomly initialised model (tiny by default), for tests and smoke runs."""
        from provoice.voice_models import importers

        return self.register(model_id, importers.build_random(tiny=tiny, seed=seed))

    def _key(self, model_id: str, name: str) -> str:
        return f"{PREFIX}/{model_id}/{name}"

    def _local(self, model_id: str, name: str):
        key = self._key(model_id, name)
        if not self.storage.exists(key):
            raise CheckpointError(f"{name} is missing (looked at {self.storage.uri(key)})")
        return self.storage.local_path(key)


def validate_model_id(model_id: str) -> None:
    """Ids become storage keys and CLI arguments: letters, digits, '.', '_', '-' only."""
    if model_id == LATEST or not _ID.match(model_id):
        raise RegistryError(
            f"invalid base model id {model_id!r}: use up to 100 letters, digits, '.', '_' or '-' "
            f"(starting with a letter or digit), and not {LATEST!r}"
        )


def describe_source(source: dict[str, Any]) -> str:
    """One line for listings, e.g. "piper-onnx:en_US-joe-medium"."""
    kind = source.get("kind", "unknown")
    name = source.get("name") or source.get("path")
    return f"{kind}:{name}" if name else str(kind)


def _summary(meta: BaseModelMeta) -> dict[str, Any]:
    summary: dict[str, Any] = {"espeak_voice": meta.espeak_voice, "discriminator": meta.discriminator}
    if "distillation" in meta.details:
        summary["distillation"] = meta.details["distillation"]
    return summary


def _check_vocabulary(meta: BaseModelMeta) -> None:
    top = max(i for ids in meta.phoneme_id_map.values() for i in ids)
    if top >= meta.config.n_vocab:
        raise RegistryError(f"phoneme_id_map uses id {top} but the model has only {meta.config.n_vocab} symbols")


def _latest_record(records: list[BaseModelRecord]) -> BaseModelRecord | None:
    pinned = [r for r in records if r.pinned]
    if pinned:
        return pinned[0]
    return records[-1] if records else None


def _info(record: BaseModelRecord, latest: bool) -> BaseModelInfo:
    created = record.created_at
    return BaseModelInfo(
        id=record.id,
        kind=record.kind,
        source=record.source,
        sample_rate=record.sample_rate,
        created_at=created,
        uri=record.uri,
        fingerprint=record.fingerprint,
        pinned=record.pinned,
        latest=latest,
        summary=dict(record.summary or {}),
    )


def _save_discriminator(path: Path, discriminator: nn.Module) -> None:
    import torch

    from provoice.tts.formats import DISCRIMINATOR_PREFIX

    state = {DISCRIMINATOR_PREFIX + k: v.detach().cpu() for k, v in discriminator.state_dict().items()}
    torch.save({"state_dict": state}, path)


def _load_discriminator(path: Path, discriminator: nn.Module) -> None:
    from provoice.tts.formats import DISCRIMINATOR_PREFIX, read_checkpoint

    checkpoint = read_checkpoint(path)
    state = {
        k[len(DISCRIMINATOR_PREFIX) :]: v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith(DISCRIMINATOR_PREFIX)
    }
    try:
        discriminator.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"discriminator weights {path.name} do not fit the model: {' '.join(first)[:500]}"
        ) from exc
