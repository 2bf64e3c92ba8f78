"""Publish a fine-tuned generator for inference under `<prefix>/<model_id>/` in storage.

Two forms, each written blob by blob through atomic storage writes, the JSON last so that its
presence means the model is complete:

- `generator.pt` + `config.json`: the generator's full state dict (float32; loads strictly into
  `SynthesizerTrn`, so it can also seed a further fine-tune), its `VitsConfig`, the phoneme map
  and the espeak voice; `load_exported_generator` reads it back.
- `<name>.onnx` + `<name>.onnx.json`: a Piper voice (see `provoice.tts.formats.onnx_export` and
  `provoice.tts.formats.piper_voice`), checked against the torch generator before it is published.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from provoice.storage import Storage
from provoice.tts import CheckpointError, ExportError, SynthesizerTrn, VitsConfig
from provoice.tts.formats import InferenceScales, export_onnx_file, piper_voice_config, verify_onnx
from provoice.voice_models.model_keys import SAFE_NAME, WEIGHTS_NAME, config_key, model_prefix

FORMAT = "provoice-vits-generator"
VERSION = 1


class ExportExists(ExportError):
    """The model id is already exported; model ids are written once."""


@dataclass(frozen=True)
class ExportedModel:
    """Storage keys of an exported generator."""

    model_id: str
    weights_key: str
    config_key: str


@dataclass(frozen=True)
class ExportedVoice:
    """Storage keys of an ONNX voice and how closely it reproduced the torch generator."""

    model_id: str
    onnx_key: str
    config_key: str
    correlation: float | None


def is_exported(storage: Storage, prefix: str, model_id: str) -> bool:
    return storage.exists(config_key(prefix, model_id))


def export_generator(
    storage: Storage,
    prefix: str,
    model_id: str,
    generator: SynthesizerTrn,
    phoneme_id_map: Mapping[str, Sequence[int]],
    *,
    espeak_voice: str = "en-us",
    metadata: Mapping[str, Any] | None = None,
) -> ExportedModel:
    """Write the generator's weights and config; returns their keys. A model id is written once:
    an existing export is refused (ExportExists), so a model stays pinned to what it was."""
    base = model_prefix(prefix, model_id)
    weights_key, done_key = f"{base}/{WEIGHTS_NAME}", config_key(prefix, model_id)
    if storage.exists(done_key):
        raise ExportExists(f"model {model_id!r} is already exported; a model id is written once")
    state = {k: v.detach().to("cpu", torch.float32) for k, v in generator.state_dict().items()}
    with storage.staged_output(weights_key) as path:
        torch.save(state, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    storage.write_json(
        done_key,
        {
            "format": FORMAT,
            "version": VERSION,
            "model_id": model_id,
            "weights": WEIGHTS_NAME,
            "weights_sha256": digest,
            "vits_config": generator.config.to_dict(),
            "sample_rate": generator.config.sample_rate,
            "espeak_voice": espeak_voice,
            "phoneme_id_map": {symbol: list(ids) for symbol, ids in phoneme_id_map.items()},
            "conditioned": generator.config.conditioned,
            "metadata": dict(metadata or {}),
        },
    )
    return ExportedModel(model_id, weights_key, done_key)


def load_exported_generator(
    storage: Storage, prefix: str, model_id: str, device: str | torch.device = "cpu"
) -> tuple[SynthesizerTrn, dict[str, Any]]:
    """The generator (eval mode) and its config.json written by `export_generator`."""
    base = model_prefix(prefix, model_id)
    key = config_key(prefix, model_id)
    if not storage.exists(key):
        raise CheckpointError(f"no exported model {model_id!r} under {prefix!r} (missing {key})")
    info = storage.read_json(key)
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise CheckpointError(f"{key} is not a ProVoice generator export (version {VERSION})")
    generator = SynthesizerTrn(VitsConfig.from_dict(info["vits_config"]))
    with storage.local_path(f"{base}/{info['weights']}") as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"weights of {model_id!r} do not fit its config: {exc}") from exc
    return generator.to(device).eval(), info


def export_onnx_voice(
    storage: Storage,
    prefix: str,
    model_id: str,
    generator: SynthesizerTrn,
    phoneme_id_map: Mapping[str, Sequence[int]],
    *,
    name: str = "model",
    espeak_voice: str = "en-us",
    speaker_embedding: np.ndarray | None = None,
    scales: InferenceScales | None = None,
    base_voice_config: Mapping[str, Any] | None = None,
    dataset: str | None = None,
    verify: bool = True,
    timed: bool = False,
) -> ExportedVoice:
    """Write `<name>.onnx` and `<name>.onnx.json` under the model's prefix.

    For a conditioned model, `speaker_embedding` freezes one voice into the graph (a plain
    single-speaker Piper voice); without it the graph takes the embedding as input `g`.
    `scales` default to Piper's (0.667, 1.0, 0.8). `verify` runs the graph in onnxruntime with
    noise scales 0 and refuses to publish one that does not reproduce the torch generator
    (correlation >= 0.99).
    """
    base = model_prefix(prefix, model_id)
    if not SAFE_NAME.match(name):
        raise ValueError(f"voice file name {name!r} must be letters, digits, '.', '_' or '-'")
    onnx_key, voice_key = f"{base}/{name}.onnx", f"{base}/{name}.onnx.json"
    correlation = None
    with storage.staged_output(onnx_key) as path:
        wrapper = export_onnx_file(generator, path, speaker_embedding, timed=timed)
        if verify:
            correlation = verify_onnx(path, generator, speaker_embedding)
    voice = piper_voice_config(
        generator.config,
        phoneme_id_map,
        espeak_voice=espeak_voice,
        scales=scales or InferenceScales(),
        base=base_voice_config,
        dataset=dataset if dataset is not None else model_id,
        provoice={
            "model_id": model_id,
            "speaker_embedding": "input g" if wrapper.takes_g else ("fixed" if speaker_embedding is not None else None),
            "speaker_embedding_dim": generator.config.speaker_embedding_dim if wrapper.takes_g else None,
        },
    )
    storage.write_json(voice_key, voice)
    return ExportedVoice(model_id, onnx_key, voice_key, correlation)
