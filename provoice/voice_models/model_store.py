"""Resolve any model id for inference: a base model (`piper-…`, `latest`) or a fine-tuned model
(`<base_model_id>/<run_id>`, exported under `models/`). Both come back as (generator, meta)."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING

from provoice.loading import SingleFlight
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import VitsConfig
from provoice.tts.formats import BaseModelMeta, InferenceScales

if TYPE_CHECKING:
    from provoice.tts import SynthesizerTrn

MODELS_PREFIX = "models"
CACHE_SIZE = 2

_models = SingleFlight(maxsize=CACHE_SIZE)


def is_fine_tuned(model_id: str) -> bool:
    return "/" in model_id


def export_fingerprint(storage: Storage, model_id: str) -> str:
    """A hash of a fine-tuned model's `config.json` (which names its weights' digest): part of the cache
    key, so a process can never keep serving weights that storage no longer holds."""
    from provoice.errors import NotFound
    from provoice.voice_models.model_keys import config_key

    key = config_key(MODELS_PREFIX, model_id)
    if not storage.exists(key):
        raise NotFound(f"no model {model_id!r}: it has not been exported (missing {key})")
    return hashlib.sha256(storage.read_bytes(key)).hexdigest()


def model_identity(settings: Settings, model_id: str) -> tuple[str, str]:
    """(id, fingerprint of its weights) of any model id; `latest` resolves to the base model it names now."""
    storage = Storage.from_settings(settings)
    if is_fine_tuned(model_id):
        return model_id, export_fingerprint(storage, model_id)
    from provoice.voice_models.registry import BaseModelRegistry

    info = BaseModelRegistry(settings, storage=storage).get(model_id)
    return info.id, info.fingerprint


def load_for_inference(settings: Settings, model_id: str, device: str = "cpu") -> tuple[SynthesizerTrn, BaseModelMeta]:
    """Generator (eval mode, folded weights, on `device`) and meta of any model id, loaded once per
    process even when many threads ask at once; `latest` resolves to the base model it names now."""
    storage = Storage.from_settings(settings)
    model_id, fingerprint = model_identity(settings, model_id)
    if is_fine_tuned(model_id):

        def load() -> tuple[SynthesizerTrn, BaseModelMeta]:
            return _load_fine_tuned(storage, model_id)
    else:
        from provoice.voice_models.registry import BaseModelRegistry

        def load() -> tuple[SynthesizerTrn, BaseModelMeta]:
            generator, _, meta = BaseModelRegistry(settings, storage=storage).load(model_id, with_discriminator=False)
            return generator, meta

    def ready() -> tuple[SynthesizerTrn, BaseModelMeta]:
        from provoice.tts import for_inference

        generator, meta = load()
        return for_inference(generator).to(device), meta

    return _models.get((storage.root_uri, model_id, fingerprint, device), ready)


def _load_fine_tuned(storage: Storage, model_id: str) -> tuple[SynthesizerTrn, BaseModelMeta]:
    """A fine-tuned generator and a meta that keeps its base's front-end and scales."""
    from provoice.errors import NotFound
    from provoice.tts import CheckpointError
    from provoice.voice_models.export import load_exported_generator

    try:
        generator, info = load_exported_generator(storage, MODELS_PREFIX, model_id)
    except (CheckpointError, ValueError) as exc:
        raise NotFound(f"no model {model_id!r}: {exc}") from exc
    return generator, fine_tuned_meta(model_id, info)


def fine_tuned_meta(model_id: str, info: dict) -> BaseModelMeta:
    """The meta of a fine-tuned model from its exported `config.json`: its base's front-end, its own
    network config and inference scales."""
    base = BaseModelMeta.from_json(info["metadata"]["base_model"], where=f"{model_id} metadata")
    meta = dataclasses.replace(base, id=model_id, config=VitsConfig.from_dict(info["vits_config"]))
    if info["metadata"].get("inference"):  # the fine-tune's own scales (older exports keep the base's)
        meta = dataclasses.replace(meta, inference=InferenceScales.from_dict(info["metadata"]["inference"]))
    return meta
