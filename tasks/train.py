"""Training steps: fine-tune (resumes from its last checkpoint on retry), evaluate, export ONNX."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import TrainConfig
from provoice.tts.train import best_step, preview_key
from provoice.views import Evaluation, FineTuneResult
from provoice.voice_models import (
    FineTuneInputs,
    ProgressWriter,
    evaluate_model,
    export_voice_onnx,
    fine_tune,
    progress_record,
)
from tasks.manifest import artifact_key
from tasks.retry import RETRY_DELAYS

LOG_EVERY = 10


class TrainingProgress:
    """The trainer's records as the run's artifacts: a progress bar that says how much of the
    budget (steps and minutes) is left, and a table of every validation with the best so far, so
    an operator can follow (and listen to, from the previews) the clone getting better."""

    def __init__(
        self, inputs: FineTuneInputs, config: TrainConfig, logger, writer: ProgressWriter | None = None
    ) -> None:
        self.inputs, self.config, self.logger, self.writer = inputs, config, logger, writer
        self.validations: list[dict] = []
        self.artifact = create_progress_artifact(0.0, description=f"Fine-tuning {inputs.model_id}: starting")

    def __call__(self, m: dict) -> None:
        if any(k.startswith("val_") for k in m):
            self.validation(m)
        else:
            self.training(m)

    def training(self, m: dict) -> None:
        left = []
        if self.config.max_steps:
            left.append(f"step {m['step']} of {self.config.max_steps}")
        if self.config.max_minutes and "trained_s" in m:
            minutes_left = max(0.0, self.config.max_minutes - m["trained_s"] / 60)
            left.append(f"{minutes_left:.1f} of {self.config.max_minutes:g} min left")
        record = progress_record(m, self.config.max_steps, self.config.max_minutes)
        if self.writer is not None:
            self.writer(record, force=m["step"] == 1)
        update_progress_artifact(
            self.artifact,
            record["percent"] or 0.0,
            description=f"Fine-tuning {self.inputs.model_id}: {', '.join(left) or 'running'}",
        )
        if m["step"] % LOG_EVERY == 0 or m["step"] == 1:
            disc = f"  loss_d {m['loss_d']:.3f}" if "loss_d" in m else ""
            self.logger.info(
                "step %d  loss_g %.3f%s  mel %.3f  kl %.3f  %.2f steps/s  lr %.2e",
                m["step"],
                m["loss_g"],
                disc,
                m["mel"],
                m["kl"],
                m["steps_per_s"],
                m["lr_g"],
            )

    def validation(self, m: dict) -> None:
        self.validations.append(m)
        best = best_step(self.validations, self.config.selection_wer_margin)
        rows = [
            {
                "step": v["step"],
                "WER": _rounded(v.get("val_wer")),
                "speaker similarity": _rounded(v.get("val_speaker_similarity")),
                "DNSMOS": _rounded(v.get("val_dnsmos"), 2),
                "held-out mel L1": _rounded(v.get("val_mel")),
                "best so far": "yes" if v["step"] == best else ("base model" if v["step"] == 0 else ""),
                "preview": preview_key(self.inputs.training_prefix, int(v["step"])),
            }
            for v in self.validations
        ]
        create_table_artifact(
            rows,
            key=artifact_key("validation", self.inputs.run_id),
            description=f"Validation of {self.inputs.model_id} (best so far: step {best})",
        )
        self.logger.info(
            "validation at step %d: WER %s, similarity %s, DNSMOS %s (best so far: step %s)",
            m["step"],
            _rounded(m.get("val_wer")),
            _rounded(m.get("val_speaker_similarity")),
            _rounded(m.get("val_dnsmos"), 2),
            best,
        )


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


@task(name="fine-tune", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=RETRY_DELAYS[:2])
def fine_tune_task(settings: Settings, inputs: FineTuneInputs, config: dict) -> FineTuneResult:
    """A retry resumes from the newest checkpoint, so no finished step is trained twice."""
    train_config = TrainConfig.from_dict(config)
    writer = ProgressWriter(Storage.from_settings(settings), inputs.run_id)
    progress = TrainingProgress(inputs, train_config, get_run_logger(), writer)
    result = fine_tune(settings, inputs, train_config, progress)
    update_progress_artifact(
        progress.artifact,
        100.0,
        description=f"Fine-tuned {inputs.model_id}: {result.steps} steps, "
        f"stopped by {result.stopped_by}, best step {result.best_step}",
    )
    return result


@task(name="evaluate-model", cache_policy=NO_CACHE)
def evaluate_task(settings: Settings, model_id: str, manifest_uri: str, with_references: bool = True) -> Evaluation:
    """`with_references` adds the ceiling and the base model's floor (one more evaluation)."""
    return evaluate_model(settings, model_id, manifest_uri, with_references=with_references)


@task(name="export-onnx", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=RETRY_DELAYS[:2])
def export_onnx_task(settings: Settings, model_id: str) -> str:
    return export_voice_onnx(settings, model_id)
