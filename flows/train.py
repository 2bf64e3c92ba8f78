"""Fine-tune flow: a base model on a prepared dataset → a pinned model, its evaluation and ONNX."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from provoice.catalog import Catalog
from provoice.catalog.models import new_id
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts.pipeline import FineTuneInputs
from provoice.tts.registry import BaseModelRegistry
from provoice.tts.train import TrainConfig
from tasks.manifest import artifact_key
from tasks.train import evaluate_task, export_onnx_task, fine_tune_task


def resolve_inputs(settings: Settings, dataset_id: str, base_model_id: str | None, run_id: str | None) -> FineTuneInputs:
    """The dataset's latest prepared version and the chosen (or latest) base model."""
    catalog = Catalog(settings)
    prepared = catalog.prepared_run(dataset_id)
    base = BaseModelRegistry(settings, catalog).get(base_model_id or "latest")
    return FineTuneInputs(run_id=run_id or new_id("ft").replace("_", "-"), base_model_id=base.id,
                          manifest_uri=prepared.manifest_uri, dataset_id=dataset_id,
                          dataset_version=prepared.version)


@flow(name="fine-tune")
def fine_tune_model(dataset_id: str, base_model_id: str | None = None, run_id: str | None = None,
                    max_steps: int | None = None, max_minutes: float | None = None, batch_size: int = 8,
                    checkpoint_every: int = 200) -> dict:
    """Train, evaluate and export; re-running with the same `run_id` resumes instead of restarting."""
    settings = Settings()
    inputs = resolve_inputs(settings, dataset_id, base_model_id, run_id)
    config = TrainConfig(batch_size=batch_size, max_steps=max_steps, max_minutes=max_minutes,
                         checkpoint_every=checkpoint_every, device=settings.device)
    trained = fine_tune_task(settings, inputs, config.to_dict())
    evaluation = evaluate_task(settings, inputs.model_id, inputs.manifest_uri)
    onnx_uri = export_onnx_task(settings, inputs.model_id)
    storage = Storage.from_settings(settings)
    loss_curve = storage.uri(trained["loss_curve_key"]) if trained["loss_curve_key"] else None
    summary = {"model_id": inputs.model_id, "base_model_id": inputs.base_model_id, "run_id": inputs.run_id,
               "dataset_id": dataset_id, "dataset_version": inputs.dataset_version, "steps": trained["steps"],
               "stopped_by": trained["stopped_by"], "onnx_uri": onnx_uri, "loss_curve_uri": loss_curve,
               "evaluation": {k: evaluation[k] for k in ("wer", "speaker_similarity", "dnsmos")}}
    create_markdown_artifact(
        "\n".join([f"# Fine-tune `{inputs.model_id}`",
                   f"- base model: `{inputs.base_model_id}`; dataset `{dataset_id}` version `{inputs.dataset_version}`",
                   f"- steps: {trained['steps']} (stopped by {trained['stopped_by']})",
                   f"- WER {evaluation['wer']:.1%}, speaker similarity {evaluation['speaker_similarity']}, "
                   f"DNSMOS {evaluation['dnsmos']:.2f}",
                   f"- ONNX voice: `{onnx_uri}`", f"- loss curve: `{loss_curve}`"]),
        key=artifact_key("model", inputs.run_id), description="Fine-tune summary")
    return summary
