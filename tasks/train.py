"""Training steps: fine-tune (resumes from its last checkpoint on retry), evaluate, export ONNX."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from provoice.settings import Settings
from provoice.tts import TrainConfig
from provoice.voice_models import Evaluation, FineTuneInputs, FineTuneResult, evaluate_model, export_voice_onnx, fine_tune
from tasks.retry import RETRY_DELAYS

LOG_EVERY = 10


@task(name="fine-tune", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=RETRY_DELAYS[:2])
def fine_tune_task(settings: Settings, inputs: FineTuneInputs, config: dict) -> FineTuneResult:
    """A retry resumes from the newest checkpoint, so no finished step is trained twice."""
    logger = get_run_logger()
    train_config = TrainConfig.from_dict(config)
    artifact = create_progress_artifact(0.0, description=f"Fine-tuning {inputs.model_id}")

    def on_metrics(m: dict) -> None:
        if train_config.max_steps:
            update_progress_artifact(artifact, min(100.0, 100.0 * m["step"] / train_config.max_steps))
        if m["step"] % LOG_EVERY == 0 or m["step"] == 1:
            logger.info("step %d  loss_g %.3f  loss_d %.3f  mel %.3f  kl %.3f  %.2f steps/s  lr %.2e",
                        m["step"], m["loss_g"], m["loss_d"], m["mel"], m["kl"], m["steps_per_s"], m["lr_g"])

    result = fine_tune(settings, inputs, train_config, on_metrics)
    update_progress_artifact(artifact, 100.0)
    return result


@task(name="evaluate-model", cache_policy=NO_CACHE)
def evaluate_task(settings: Settings, model_id: str, manifest_uri: str) -> Evaluation:
    return evaluate_model(settings, model_id, manifest_uri)


@task(name="export-onnx", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=RETRY_DELAYS[:2])
def export_onnx_task(settings: Settings, model_id: str) -> str:
    return export_voice_onnx(settings, model_id)
