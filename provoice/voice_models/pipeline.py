"""Fine-tuning as plain steps over storage: what the training tasks call, free of Prefect.

Fine-tuned models live under `models/<model_id>/` with `model_id = <base_model_id>/<run_id>`, so
a model is pinned to its base forever; training state lives under `training/<run_id>/`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from provoice.audio.resample import to_16k
from provoice.dataset.outputs import read_manifest
from provoice.quality.speaker import load_encoder, voice_of
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import TrainConfig, TrainingError, build_discriminator, synthesize, train
from provoice.voice_models.evaluate import Evaluation, evaluate, split_held_out
from provoice.voice_models.export import export_generator, export_onnx_voice, is_exported
from provoice.voice_models.finetune import source_embeddings, training_items, with_voice_conditioning
from provoice.voice_models.model_store import MODELS_PREFIX, load_for_inference
from provoice.voice_models.registry import BaseModelRegistry

HELD_OUT_SEGMENTS = 8
DISC_WARMUP_STEPS = 200


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


@dataclass
class FineTuneResult:
    """Where training left the run (rank 0's view; also `training/<run_id>/result.json`)."""

    model_id: str
    steps: int
    stopped_by: str
    resumed_from: str | None
    loss_curve_key: str | None
    batch_size: int
    processes: int
    trained_s: float = 0.0


def training_processes(settings: Settings) -> int:
    """Processes to train with: the setting, or one per visible GPU when it is 0 (auto)."""
    import torch

    if settings.train_processes > 0:
        return settings.train_processes
    return max(1, torch.cuda.device_count())


def fine_tune(settings: Settings, inputs: FineTuneInputs, config: TrainConfig,
              on_metrics: Callable[[dict], None] | None = None) -> FineTuneResult:
    """Train the base model on the dataset's manifest (minus held-out rows) and export the result.

    With more than one training process (several GPUs), the same work re-runs under torchrun
    (`provoice.voice_models.train_worker`), one process per GPU; rank 0 exports and leaves the summary in
    storage. An interrupted run resumes from its newest checkpoint either way.
    """
    processes = training_processes(settings)
    if processes > 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return _launch_distributed(settings, inputs, config, processes)
    return fine_tune_here(settings, inputs, config, on_metrics)


def fine_tune_here(settings: Settings, inputs: FineTuneInputs, config: TrainConfig,
                   on_metrics: Callable[[dict], None] | None = None) -> FineTuneResult:
    """Fine-tune in this process (one rank under torchrun); rank 0 exports and records the summary.

    A run whose model is already exported is never trained again (a Prefect retry after a failure
    past the export, a PVC retry after charging failed): its recorded result comes back instead.
    """
    storage = Storage.from_settings(settings)
    if is_exported(storage, MODELS_PREFIX, inputs.model_id):
        return FineTuneResult(**storage.read_json(f"{inputs.training_prefix}/result.json"))
    generator, discriminator, meta = BaseModelRegistry(settings).load(inputs.base_model_id)
    generator = with_voice_conditioning(generator)
    if discriminator is None:
        discriminator = build_discriminator(generator.config)
        config = TrainConfig.from_dict({**config.to_dict(),
                                        "disc_warmup_steps": max(config.disc_warmup_steps, DISC_WARMUP_STEPS)})
    rows, _ = split_held_out(read_manifest(storage, inputs.manifest_uri), HELD_OUT_SEGMENTS)
    embeddings = source_embeddings(storage, rows, load_encoder("cpu"))
    items = training_items(storage, rows, meta.front_end(), meta.sample_rate, embeddings)
    result = train(items, generator, discriminator, config, storage, inputs.training_prefix,
                   on_metrics=on_metrics)
    summary = FineTuneResult(model_id=inputs.model_id, steps=result.step, stopped_by=result.stopped_by,
                             resumed_from=result.resumed_from, loss_curve_key=result.loss_curve_key,
                             batch_size=result.batch_size, processes=int(os.environ.get("WORLD_SIZE", "1")),
                             trained_s=result.trained_s)
    if int(os.environ.get("RANK", "0")) == 0:
        storage.write_json(f"{inputs.training_prefix}/result.json", dataclasses.asdict(summary))
        export_generator(storage, MODELS_PREFIX, inputs.model_id, generator, meta.phoneme_id_map,
                         espeak_voice=meta.espeak_voice,
                         metadata={"base_model": meta.to_json(), "base_model_id": inputs.base_model_id,
                                   "dataset_id": inputs.dataset_id, "dataset_version": inputs.dataset_version,
                                   "run_id": inputs.run_id, "steps": result.step,
                                   "loss_curve_key": result.loss_curve_key})
    return summary


def _launch_distributed(settings: Settings, inputs: FineTuneInputs, config: TrainConfig,
                        processes: int) -> FineTuneResult:
    storage = Storage.from_settings(settings)
    payload = json.dumps({"inputs": dataclasses.asdict(inputs), "config": config.to_dict()})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           "-m", "provoice.voice_models.train_worker", payload]
    done = subprocess.run(cmd, env={**os.environ, **settings_env(settings)})
    if done.returncode != 0:
        raise TrainingError(f"distributed training with {processes} processes failed "
                            f"(torchrun exit {done.returncode}); see the log above")
    return FineTuneResult(**storage.read_json(f"{inputs.training_prefix}/result.json"))


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as PROVOICE_* variables, so worker processes see exactly these settings."""
    dumped = settings.model_dump(mode="json")
    return {f"PROVOICE_{k.upper()}": json.dumps(v) if isinstance(v, (list, dict)) else str(v)
            for k, v in dumped.items() if v is not None}


def export_voice_onnx(settings: Settings, model_id: str, embedding: np.ndarray | None = None) -> str:
    """A Piper-compatible ONNX + JSON of a fine-tuned model (a voice's embedding frozen in, if given)."""
    storage = Storage.from_settings(settings)
    onnx_key = f"{MODELS_PREFIX}/{model_id}/model.onnx"
    if storage.exists(f"{onnx_key}.json"):
        return storage.uri(onnx_key)
    generator, meta = load_for_inference(settings, model_id)
    voice = export_onnx_voice(storage, MODELS_PREFIX, model_id, generator, meta.phoneme_id_map,
                              espeak_voice=meta.espeak_voice, speaker_embedding=embedding)
    return storage.uri(voice.onnx_key)


def evaluate_model(settings: Settings, model_id: str, manifest_uri: str) -> Evaluation:
    """Held-out sentences through the model, scored against the dataset's held-out real segments."""
    from provoice.asr.whisper import load_model
    from provoice.audio.wavio import read_slice, read_wav_info
    storage = Storage.from_settings(settings)
    generator, meta = load_for_inference(settings, model_id)
    _, held = split_held_out(read_manifest(storage, manifest_uri), HELD_OUT_SEGMENTS)
    refs = []
    for r in held:
        with storage.local_path(storage.key_of(r["audio_uri"])) as wav:
            refs.append(to_16k(read_slice(wav, r["start"], r["end"]), read_wav_info(wav)[0]))
    encoder = load_encoder("cpu")
    voice = voice_of(encoder, refs)
    asr = load_model(settings.asr_model, settings.resolved_device(), settings.asr_compute_type,
                     settings.asr_cpu_threads)
    return evaluate(lambda text: synthesize(generator, meta, text, voice, seed=0), asr, encoder, voice)


