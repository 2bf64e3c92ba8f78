"""A self-contained training bundle: everything a fine-tune needs, already decoded and phonemised,
so a GPU node with only torch and numpy (no ffmpeg, Whisper, espeak-ng or piper-phonemize) can
train, checkpoint and write validation audio.

Files: `bundle.json` (model config, scales, counts, provenance), `data.npz` (int16 audio at the
model rate, phoneme ids and per-file embeddings of every training item; the validation sentences'
ids, the held-out voice and held-out clips) and `generator.npz` (the base generator in fp32, fp16,
or int8 per output channel for a compact bundle), plus `discriminator.npz` when the
base has one. The product's own fine-tune trains through a bundle too, so both paths are one.

Train one: `python -m provoice.tts.train.bundle BUNDLE_DIR OUT_DIR --max-minutes 5 --device cuda`.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn, build_discriminator
from provoice.tts.train.batching import TrainingItem
from provoice.tts.train.config import TrainConfig
from provoice.tts.train.store import LocalRunStore, RunStore
from provoice.tts.train.trainer import MetricsCallback, Trainer, TrainResult
from provoice.tts.train.validation import Scorer, ValidationSet, Validator

FORMAT = "provoice-train-bundle"
VERSION = 1
INFO, DATA, GENERATOR, DISCRIMINATOR = "bundle.json", "data.npz", "generator.npz", "discriminator.npz"
WEIGHTS = ("fp32", "fp16", "int8")
#: Steps a fresh discriminator (a base imported without one) trains alone before it steers the generator.
FRESH_DISC_WARMUP_STEPS = 200
#: Tensors smaller than this stay fp16 in an int8 bundle (biases, norms: tiny, and sensitive).
_INT8_MIN_NUMEL = 4096


@dataclass
class Bundle:
    info: dict[str, Any]
    items: list[TrainingItem]
    validation: ValidationSet
    generator_state: dict[str, torch.Tensor]
    discriminator_state: dict[str, torch.Tensor] | None = None
    config: VitsConfig = field(init=False)

    def __post_init__(self) -> None:
        self.config = VitsConfig.from_dict(self.info["vits_config"])

    def generator(self) -> SynthesizerTrn:
        model = SynthesizerTrn(self.config)
        model.load_state_dict(self.generator_state)
        return model

    def discriminator(self) -> torch.nn.Module:
        model = build_discriminator(self.config)
        if self.discriminator_state is not None:
            model.load_state_dict(self.discriminator_state)
        return model

    @property
    def has_discriminator(self) -> bool:
        return self.discriminator_state is not None


def bundle_files(
    items: Sequence[TrainingItem],
    validation: ValidationSet,
    generator: SynthesizerTrn,
    discriminator: torch.nn.Module | None = None,
    *,
    info: Mapping[str, Any] | None = None,
    weights: str = "fp16",
) -> dict[str, bytes]:
    """The bundle as {file name: bytes}, for any store to write."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, not {weights!r}")
    audio_s = sum(len(i.audio) for i in items) / generator.config.sample_rate
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "vits_config": generator.config.to_dict(),
        "weights": weights,
        "items": len(items),
        "audio_seconds": round(audio_s, 2),
        "sentences": list(validation.sentences),
        "scales": {
            "noise_scale": validation.noise_scale,
            "length_scale": validation.length_scale,
            "noise_w": validation.noise_w,
        },
        **dict(info or {}),
    }
    data: dict[str, np.ndarray] = {}
    _pack(data, "item", items)
    _pack(data, "clip", validation.clips)
    data["val_ids"], data["val_ids_offsets"] = _ragged([np.asarray(x, dtype=np.int32) for x in validation.phoneme_ids])
    if validation.voice is not None:
        data["val_voice"] = np.asarray(validation.voice, dtype=np.float32)
    files = {
        INFO: json.dumps(meta, indent=1).encode(),
        DATA: _npz(data),
        GENERATOR: _npz(_weights_out(generator.state_dict(), weights)),
    }
    if discriminator is not None:
        files[DISCRIMINATOR] = _npz(_weights_out(discriminator.state_dict(), "fp16" if weights == "int8" else weights))
    return files


def read_bundle(store: RunStore, prefix: str = "") -> Bundle:
    """A bundle from `store` under `prefix` (a directory: `LocalRunStore(path)`, prefix "")."""

    def key(name: str) -> str:
        return f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name

    info = store.read_json(key(INFO))
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise ValueError(f"{store.uri(key(INFO))} is not a version {VERSION} {FORMAT}")
    data = _load_npz(store, key(DATA))
    voice = data.get("val_voice")
    scales = info.get("scales", {})
    validation = ValidationSet(
        sentences=list(info["sentences"]),
        phoneme_ids=[x.tolist() for x in _unragged(data, "val_ids")],
        voice=voice,
        clips=_unpack(data, "clip"),
        **scales,
    )
    disc = _weights_in(_load_npz(store, key(DISCRIMINATOR))) if store.exists(key(DISCRIMINATOR)) else None
    return Bundle(
        info=info,
        items=_unpack(data, "item"),
        validation=validation,
        generator_state=_weights_in(_load_npz(store, key(GENERATOR))),
        discriminator_state=disc,
    )


def train_bundle(
    bundle: Bundle,
    config: TrainConfig,
    store: RunStore,
    prefix: str,
    *,
    score: Scorer | None = None,
    on_metrics: MetricsCallback | None = None,
    generator: SynthesizerTrn | None = None,
) -> TrainResult:
    """Fine-tune the bundle's base on its items, validating with its sentences and clips (mel error
    always; WER, similarity and DNSMOS when a `score` is given). A fresh discriminator (a base without
    one) trains alone for at least `FRESH_DISC_WARMUP_STEPS`; pass `generator` to keep the trained model."""
    generator = generator or bundle.generator()
    if not bundle.has_discriminator and config.disc_warmup_steps < FRESH_DISC_WARMUP_STEPS:
        config = TrainConfig.from_dict({**config.to_dict(), "disc_warmup_steps": FRESH_DISC_WARMUP_STEPS})
    validate = None
    if config.validate_every or config.validate_at_start:
        validate = Validator(bundle.validation, store, prefix, score)
    return Trainer(
        bundle.items, generator, bundle.discriminator(), config, store, prefix, on_metrics=on_metrics, validate=validate
    ).run()


def _pack(data: dict[str, np.ndarray], name: str, items: Sequence[TrainingItem]) -> None:
    audio = [np.round(np.clip(np.asarray(i.audio, dtype=np.float32), -1, 1) * 32767).astype(np.int16) for i in items]
    data[f"{name}_audio"], data[f"{name}_audio_offsets"] = _ragged(audio)
    data[f"{name}_ids"], data[f"{name}_ids_offsets"] = _ragged(
        [np.asarray(i.phoneme_ids, dtype=np.int32) for i in items]
    )
    data[f"{name}_names"] = np.asarray([i.item_id for i in items], dtype=np.str_)
    if items and items[0].embedding is not None:
        data[f"{name}_embeddings"] = np.stack([np.asarray(i.embedding, dtype=np.float32) for i in items])


def _unpack(data: Mapping[str, np.ndarray], name: str) -> list[TrainingItem]:
    audio, ids = _unragged(data, f"{name}_audio"), _unragged(data, f"{name}_ids")
    embeddings = data.get(f"{name}_embeddings")
    return [
        TrainingItem(
            phoneme_ids=[int(x) for x in ids[i]],
            audio=audio[i].astype(np.float32) / 32767,
            embedding=None if embeddings is None else embeddings[i],
            item_id=str(n),
        )
        for i, n in enumerate(data[f"{name}_names"])
    ]


def _ragged(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.cumsum([0] + [len(a) for a in arrays]).astype(np.int64)
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int16)
    return flat, offsets


def _unragged(data: Mapping[str, np.ndarray], name: str) -> list:
    flat, offsets = data[name], data[f"{name}_offsets"]
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def _weights_out(state: Mapping[str, torch.Tensor], weights: str) -> dict[str, np.ndarray]:
    out = {}
    for name, t in state.items():
        t = t.detach().cpu().float()
        if weights == "int8" and t.dim() >= 2 and t.numel() >= _INT8_MIN_NUMEL:
            flat = t.reshape(t.size(0), -1)
            scale = flat.abs().amax(dim=1).clamp_min(1e-12) / 127
            out[f"q8:{name}"] = torch.round(flat / scale[:, None]).to(torch.int8).reshape(t.shape).numpy()
            out[f"s8:{name}"] = scale.numpy().astype(np.float32)
        elif weights == "fp32":
            out[f"f32:{name}"] = t.numpy()
        else:
            out[f"f16:{name}"] = t.numpy().astype(np.float16)
    return out


def _weights_in(arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in arrays.items():
        kind, name = key.split(":", 1)
        if kind in ("f16", "f32"):
            state[name] = torch.from_numpy(value.astype(np.float32))
        elif kind == "q8":
            scale = arrays[f"s8:{name}"].astype(np.float32)
            shape = (-1,) + (1,) * (value.ndim - 1)
            state[name] = torch.from_numpy(value.astype(np.float32) * scale.reshape(shape))
    return state


def _npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as its allow_pickle flag
    return buffer.getvalue()


def _load_npz(store: RunStore, key: str) -> dict[str, np.ndarray]:
    with store.local_path(key) as path, np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m provoice.tts.train.bundle",
        description="Fine-tune from a training bundle with torch and numpy only.",
    )
    ap.add_argument("bundle", type=Path)
    ap.add_argument("out", type=Path, help="directory for checkpoints, previews, best weights and history")
    ap.add_argument("--max-steps", type=int)
    ap.add_argument("--max-minutes", type=float)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the bundle's suggested config")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--validate-every", type=int, default=None)
    args = ap.parse_args(argv)
    if args.max_steps is None and args.max_minutes is None:
        ap.error("give a budget: --max-steps and/or --max-minutes")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    bundle = read_bundle(LocalRunStore(args.bundle))
    suggested = dict(bundle.info.get("train_config", {}))
    overrides = {
        "max_steps": args.max_steps,
        "max_minutes": args.max_minutes,
        "device": args.device,
        "batch_size": args.batch_size,
        "validate_every": args.validate_every,
    }
    config = TrainConfig.from_dict({**suggested, **{k: v for k, v in overrides.items() if v is not None}})
    result = train_bundle(bundle, config, LocalRunStore(args.out), "")
    print(
        json.dumps(
            {
                "step": result.step,
                "stopped_by": result.stopped_by,
                "best_step": result.best_step,
                "trained_s": result.trained_s,
                "validation_s": result.validation_s,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
