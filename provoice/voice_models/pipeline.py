"""Fine-tuning as plain steps over storage: what the training tasks call, free of Prefect.

Fine-tuned models live under `models/<model_id>/` with `model_id = <base_model_id>/<run_id>`, so
a model is pinned to its base forever; training state lives under `training/<run_id>/`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from provoice.dataset.outputs import read_manifest
from provoice.quality.speaker import load_encoder
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import TrainConfig, TrainingError
from provoice.tts.train import BUNDLE_INFO, bundle_files, read_bundle, train_bundle
from provoice.views import FineTuneResult, stored
from provoice.voice_models.distance import measure_base_voice
from provoice.voice_models.evaluate import HELD_OUT_SEGMENTS, split_held_out
from provoice.voice_models.export import export_generator, export_onnx_voice, is_exported
from provoice.voice_models.finetune import source_embeddings, training_items, with_voice_conditioning
from provoice.voice_models.model_store import MODELS_PREFIX, load_for_inference
from provoice.voice_models.recipe import recipe_for
from provoice.voice_models.registry import BaseModelRegistry
from provoice.voice_models.validation import VALIDATION_SENTENCES, load_held_out, speech_scorer, validation_set

#: The torchrun ranks get the launching process's settings whole, as JSON in this variable (not in
#: their arguments, which any user of the machine can read).
WORKER_SETTINGS_ENV = "PROVOICE_WORKER_SETTINGS"


@dataclass
class FineTuneInputs:
    """Everything a fine-tune run needs, resolved from the catalog once."""

    run_id: str
    base_model_id: str
    manifest_uri: str
    dataset_id: str
    dataset_version: str

    @property
    def model_id(self) -> str:
        return f"{self.base_model_id}/{self.run_id}"

    @property
    def training_prefix(self) -> str:
        return f"training/{self.run_id}"

    def identity(self) -> dict[str, str]:
        """The run's names, as a `FineTuneResult` carries them."""
        return {
            "model_id": self.model_id,
            "base_model_id": self.base_model_id,
            "run_id": self.run_id,
            "dataset_id": self.dataset_id,
            "dataset_version": self.dataset_version,
        }


def result_key(inputs: FineTuneInputs) -> str:
    """Where rank 0 records the run's `FineTuneResult`."""
    return f"{inputs.training_prefix}/result.json"


def read_result(storage: Storage, inputs: FineTuneInputs) -> FineTuneResult:
    """The run's recorded result; a record written before it carried the run's identity gets it from `inputs`."""
    return FineTuneResult.model_validate({**inputs.identity(), **storage.read_json(result_key(inputs))})


def training_processes(settings: Settings) -> int:
    """Processes to train with: the setting, or one per visible GPU when it is 0 (auto)."""
    import torch

    if settings.train_processes > 0:
        return settings.train_processes
    return max(1, torch.cuda.device_count())


def fine_tune(
    settings: Settings, inputs: FineTuneInputs, config: TrainConfig, on_metrics: Callable[[dict], None] | None = None
) -> FineTuneResult:
    """Train the base model on the dataset's manifest (minus held-out rows) through the run's bundle
    and export the result; an interrupted run resumes from its newest checkpoint.

    A run whose model is already exported is never trained again (a Prefect retry after a failure
    past the export, a PVC retry after charging failed): its recorded result comes back instead.
    With more than one training process (several GPUs), the same call re-runs under torchrun
    (`provoice.voice_models.train_worker`), one rank per GPU; rank 0 exports and records the result
    in storage (`result_key`).
    """
    storage = Storage.from_settings(settings)
    if is_exported(storage, MODELS_PREFIX, inputs.model_id):
        return read_result(storage, inputs)
    processes = training_processes(settings)
    if processes > 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return _launch_distributed(settings, inputs, config, processes)
    meta = BaseModelRegistry(settings).meta(inputs.base_model_id)
    recipe = recipe_for(settings)
    bundle = read_bundle(storage, ensure_bundle(settings, inputs))
    generator = bundle.generator()
    score = None
    if int(os.environ.get("RANK", "0")) == 0 and bundle.validation.voice is not None:
        score = speech_scorer(settings, load_encoder("cpu"), bundle.validation.voice)
    result = train_bundle(
        bundle, config, storage, inputs.training_prefix, score=score, on_metrics=on_metrics, generator=generator
    )
    validation = [r for r in result.history if any(k.startswith("val_") for k in r)]
    outcome = FineTuneResult(
        **inputs.identity(),
        steps=result.step,
        stopped_by=result.stopped_by,
        best_step=result.best_step,
        resumed_from=result.resumed_from,
        loss_curve_key=result.loss_curve_key,
        batch_size=result.batch_size,
        processes=int(os.environ.get("WORLD_SIZE", "1")),
        trained_s=result.trained_s,
        validation_s=result.validation_s,
        validation=validation,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        storage.write_json(result_key(inputs), stored(outcome))
        export_generator(
            storage,
            MODELS_PREFIX,
            inputs.model_id,
            generator,
            meta.phoneme_id_map,
            espeak_voice=meta.espeak_voice,
            metadata={
                "base_model": meta.to_json(),
                "base_model_id": inputs.base_model_id,
                "inference": dataclasses.asdict(recipe.inference_scales(meta.inference)),
                "recipe": recipe.to_dict(),
                "dataset_id": inputs.dataset_id,
                "dataset_version": inputs.dataset_version,
                "run_id": inputs.run_id,
                "steps": result.step,
                "best_step": result.best_step,
                "loss_curve_key": result.loss_curve_key,
            },
        )
    return outcome


def bundle_prefix(inputs: FineTuneInputs) -> str:
    return f"{inputs.training_prefix}/bundle"


def ensure_bundle(settings: Settings, inputs: FineTuneInputs) -> str:
    """The run's training bundle (written once, so a resumed run trains on exactly the same items); its prefix."""
    storage = Storage.from_settings(settings)
    prefix = bundle_prefix(inputs)
    if not storage.exists(f"{prefix}/{BUNDLE_INFO}"):
        for name, data in build_bundle(settings, inputs, weights="fp32").items():
            storage.write_bytes(f"{prefix}/{name}", data)
    return prefix


def build_bundle(
    settings: Settings,
    inputs: FineTuneInputs,
    *,
    weights: str = "fp16",
    max_audio_s: float | None = None,
    config: TrainConfig | None = None,
) -> dict[str, bytes]:
    """The dataset's training rows (minus the held-out ones) decoded, phonemised and embedded, the
    validation set, and the base generator with voice conditioning: `provoice.tts.train.bundle`'s
    files. `max_audio_s` keeps a deterministic sample of that much training audio (a small bundle
    for a quick GPU check); `config` is stored as the bundle's suggested training config."""
    storage = Storage.from_settings(settings)
    registry = BaseModelRegistry(settings)
    generator, discriminator, meta = registry.load(inputs.base_model_id)
    measure_base_voice(settings, inputs.base_model_id, generator, meta)  # bases registered before it was kept
    generator = with_voice_conditioning(generator, text_side=False)
    rows, held_rows = split_held_out(read_manifest(storage, inputs.manifest_uri), HELD_OUT_SEGMENTS)
    if max_audio_s is not None:
        rows = _sample(rows, max_audio_s)
    encoder = load_encoder("cpu")
    embeddings = source_embeddings(storage, rows, encoder)
    front_end = meta.front_end()
    items = training_items(storage, rows, front_end, meta.sample_rate, embeddings)
    held = load_held_out(storage, held_rows, encoder)
    vset = validation_set(
        storage, held, front_end, meta.sample_rate, VALIDATION_SENTENCES[: settings.train_validation_sentences]
    )
    recipe = recipe_for(settings)
    scales = recipe.inference_scales(meta.inference)
    vset.noise_scale, vset.length_scale, vset.noise_w = scales.noise_scale, scales.length_scale, scales.noise_w
    suggested = config or recipe.train_config(settings)
    info = {
        "base_model_id": inputs.base_model_id,
        "dataset_id": inputs.dataset_id,
        "dataset_version": inputs.dataset_version,
        "train_config": suggested.to_dict(),
    }
    return bundle_files(items, vset, generator, discriminator, info=info, weights=weights)


def _sample(rows: list[dict], seconds: float) -> list[dict]:
    """Rows in a fixed pseudo-random order (by id hash) until `seconds` of audio."""
    out: list[dict] = []
    total = 0.0
    for r in sorted(rows, key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest()):
        if total + r["duration"] > seconds and out:
            break
        out.append(r)
        total += r["duration"]
    return out


def _launch_distributed(
    settings: Settings, inputs: FineTuneInputs, config: TrainConfig, processes: int
) -> FineTuneResult:
    storage = Storage.from_settings(settings)
    ensure_bundle(settings, inputs)  # once, before the ranks start, so none of them writes it
    payload = json.dumps({"inputs": dataclasses.asdict(inputs), "config": config.to_dict()})
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        "provoice.voice_models.train_worker",
        payload,
    ]
    done = subprocess.run(cmd, env={**os.environ, WORKER_SETTINGS_ENV: settings.model_dump_json()})
    if done.returncode != 0:
        raise TrainingError(
            f"distributed training with {processes} processes failed "
            f"(torchrun exit {done.returncode}); see the log above"
        )
    return read_result(storage, inputs)


def export_voice_onnx(settings: Settings, model_id: str, embedding: np.ndarray | None = None) -> str:
    """A Piper-compatible ONNX + JSON of a fine-tuned model (a voice's embedding frozen in, if given),
    with the phoneme durations output that serving reads word timestamps from."""
    storage = Storage.from_settings(settings)
    onnx_key = f"{MODELS_PREFIX}/{model_id}/model.onnx"
    if storage.exists(f"{onnx_key}.json"):
        return storage.uri(onnx_key)
    generator, meta = load_for_inference(settings, model_id)
    voice = export_onnx_voice(
        storage,
        MODELS_PREFIX,
        model_id,
        generator,
        meta.phoneme_id_map,
        espeak_voice=meta.espeak_voice,
        speaker_embedding=embedding,
        scales=meta.inference,
        timed=True,
    )
    return storage.uri(voice.onnx_key)
