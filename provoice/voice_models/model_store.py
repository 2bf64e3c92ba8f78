"""Resolve any model id for inference: a base model (`piper-…`, `latest`) or a fine-tuned model
(`<base_model_id>/<run_id>`, exported under `models/`). Both come back as (generator, meta)."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict

from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import CheckpointError, SynthesizerTrn, VitsConfig, for_inference
from provoice.tts.formats import BaseModelMeta

MODELS_PREFIX = "models"
CACHE_SIZE = 2

_cache: OrderedDict[tuple[str, str, str], tuple[SynthesizerTrn, BaseModelMeta]] = OrderedDict()
_lock = threading.Lock()


def is_fine_tuned(model_id: str) -> bool:
    return "/" in model_id


def load_for_inference(settings: Settings, model_id: str, device: str = "cpu") -> tuple[SynthesizerTrn, BaseModelMeta]:
    """Generator (eval mode, folded weights, on `device`) and meta of any model id, loaded once per
    process; `latest` resolves to the base model it names now."""
    storage = Storage.from_settings(settings)
    if is_fine_tuned(model_id):
        def load() -> tuple[SynthesizerTrn, BaseModelMeta]:
            return _load_fine_tuned(storage, model_id)
    else:
        from provoice.voice_models.registry import BaseModelRegistry

        registry = BaseModelRegistry(settings, storage=storage)
        model_id = registry.get(model_id).id

        def load() -> tuple[SynthesizerTrn, BaseModelMeta]:
            generator, _, meta = registry.load(model_id, with_discriminator=False)
            return generator, meta
    key = (storage.root_uri, model_id, device)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    generator, meta = load()
    loaded = (for_inference(generator).to(device), meta)
    with _lock:
        _cache[key] = loaded
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded


def _load_fine_tuned(storage: Storage, model_id: str) -> tuple[SynthesizerTrn, BaseModelMeta]:
    """A fine-tuned generator and a meta that keeps its base's front-end and scales."""
    from provoice.errors import NotFound
    from provoice.voice_models.export import load_exported_generator

    try:
        generator, info = load_exported_generator(storage, MODELS_PREFIX, model_id)
    except (CheckpointError, ValueError) as exc:
        raise NotFound(f"no model {model_id!r}: {exc}") from exc
    base = BaseModelMeta.from_json(info["metadata"]["base_model"], where=f"{model_id} metadata")
    return generator, dataclasses.replace(base, id=model_id, config=VitsConfig.from_dict(info["vits_config"]))
