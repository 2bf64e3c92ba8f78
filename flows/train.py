"""Fine-tune flow: a base model on a prepared dataset → a pinned model, its evaluation and ONNX."""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from uuid import UUID

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.concurrency.sync import concurrency

from flows.run_names import fine_tune_run_name
from provoice.catalog import Catalog
from provoice.catalog.models import new_id
from provoice.errors import NotFound, ProVoiceError
from provoice.pvc.lifecycle import Heartbeat
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.views import FineTuneResult, stored
from provoice.voice_models import MODELS_PREFIX, BaseModelRegistry, FineTuneInputs, recipe_for
from tasks.manifest import artifact_key
from tasks.train import evaluate_task, export_onnx_task, fine_tune_task

GPU_LIMIT = "gpu"
log = logging.getLogger(__name__)
SUMMARY_FILE = "fine-tune.json"


def gpu_slot() -> contextlib.AbstractContextManager:
    """A slot of the `gpu` global concurrency limit where the server has one; nothing where it has
    none (an embedded home), which Prefect would otherwise warn about on every training."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(GPU_LIMIT)
    except ObjectNotFound:
        return contextlib.nullcontext()
    return concurrency(GPU_LIMIT, occupy=1)


class TrainingFailed(ProVoiceError):
    """The fine-tune deployment's run did not complete."""


def resolve_inputs(
    settings: Settings,
    dataset_id: str,
    base_model_id: str | None,
    run_id: str | None,
    dataset_version: str | None = None,
) -> FineTuneInputs:
    """The dataset's prepared version (the latest, or the pinned one) and the chosen (or latest) base model."""
    catalog = Catalog(settings)
    prepared = catalog.prepared_run(dataset_id)
    if dataset_version and prepared.version != dataset_version:
        prepared = catalog.prepared_version(dataset_id, dataset_version)
    base = BaseModelRegistry(settings, catalog).get(base_model_id or "latest")
    return FineTuneInputs(
        run_id=run_id or new_id("ft").replace("_", "-"),
        base_model_id=base.id,
        manifest_uri=prepared.manifest_uri,
        dataset_id=dataset_id,
        dataset_version=prepared.version,
    )


@flow(name="fine-tune", flow_run_name=fine_tune_run_name)
def fine_tune_model(
    dataset_id: str,
    base_model_id: str | None = None,
    run_id: str | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    batch_size: int | None = None,
    checkpoint_every: int | None = None,
    dataset_version: str | None = None,
) -> FineTuneResult:
    """Train, then evaluate and export ONNX side by side; re-running with the same `run_id` resumes
    instead of restarting, and reads back the scores of every model already evaluated
    (`provoice.voice_models.kept_scores`), the base model's included.

    `batch_size` and `checkpoint_every` default to the recipe's (`provoice.voice_models.recipe`).
    Training holds a slot of the global concurrency limit `gpu` (skipped when the limit does not
    exist), so no more trainings run at once than there are GPUs for.
    """
    settings = Settings()
    inputs = resolve_inputs(settings, dataset_id, base_model_id, run_id, dataset_version)
    config = recipe_for(settings).train_config(
        settings, batch_size=batch_size, max_steps=max_steps, max_minutes=max_minutes, checkpoint_every=checkpoint_every
    )
    # A PVC's training (run_id is its id) renews the PVC's lease here, where it trains and evaluates:
    # if this worker dies, the lease lapses and the reaper fails the attempt. Other ids renew nothing.
    with Heartbeat(Catalog(settings), settings, inputs.run_id):
        with gpu_slot():
            trained = fine_tune_task(settings, inputs, config.to_dict())
        onnx = export_onnx_task.submit(settings, inputs.model_id)  # side by side with the evaluation
        evaluation = evaluate_task(settings, inputs.model_id, inputs.manifest_uri)
        onnx_uri = onnx.result()
    storage = Storage.from_settings(settings)
    loss_curve = storage.uri(trained.loss_curve_key) if trained.loss_curve_key else None
    result = trained.model_copy(update={"evaluation": evaluation, "onnx_uri": onnx_uri, "loss_curve_uri": loss_curve})
    create_markdown_artifact(
        summary_markdown(result, storage), key=artifact_key("model", inputs.run_id), description="Fine-tune summary"
    )
    storage.write_json(summary_key(inputs.model_id), stored(result))
    return result


def summary_markdown(result: FineTuneResult, storage: Storage) -> str:
    """The summary an operator reads in the Prefect UI: scores next to their floor and ceiling, the
    loss curve itself (embedded, since a storage path means nothing to a browser) and the stored
    files by what they are."""
    best = (
        f"; exported the best validated step, {result.best_step}"
        if result.best_step is not None
        else "; exported the last step"
    )
    lines = [
        f"# Fine-tune `{result.model_id}`",
        f"- base model `{result.base_model_id}`; dataset `{result.dataset_id}` version `{result.dataset_version}`",
        f"- {result.steps} steps in {result.trained_s / 60:.1f} min, stopped by {result.stopped_by}{best}",
        f"- {result.evaluation.line()}",
        f"- stored with the model `{result.model_id}`: the Piper ONNX voice `model.onnx` and its "
        f"`model.onnx.json`; with the training run `{result.run_id}`: the loss curve `loss_curve.png`, the "
        f"metrics `history.json` and one preview WAV per validation (`previews/step-N.wav`)",
    ]
    if result.loss_curve_key and storage.exists(result.loss_curve_key):
        encoded = base64.b64encode(storage.read_bytes(result.loss_curve_key)).decode()
        lines += ["", f"![loss and validation curves](data:image/png;base64,{encoded})"]
    return "\n".join(lines)


def summary_key(model_id: str) -> str:
    return f"{MODELS_PREFIX}/{model_id}/{SUMMARY_FILE}"


def train_model(
    settings: Settings,
    dataset_id: str,
    *,
    base_model_id: str,
    run_id: str,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    dataset_version: str | None = None,
    lease: Heartbeat | None = None,
) -> FineTuneResult:
    """Fine-tune as a subflow: on the GPU deployment `settings.train_deployment` when one is
    configured (its summary is read back from storage, which both sides share), in-process otherwise.
    With the PVC's `lease`, the remote run holds the lease while it runs (`wait_for_training`)."""
    base = BaseModelRegistry(settings).get(base_model_id).id
    params = {
        "dataset_id": dataset_id,
        "base_model_id": base,
        "run_id": run_id,
        "max_steps": max_steps,
        "max_minutes": max_minutes,
        "dataset_version": dataset_version,
    }
    if not settings.train_deployment:
        return fine_tune_model(**params)
    from prefect.deployments import run_deployment

    run = run_deployment(settings.train_deployment, parameters=params, timeout=0, as_subflow=True)
    run = wait_for_training(run.id, lease)
    if run.state is None or not run.state.is_completed():
        state = run.state.name if run.state else "unknown"
        message = (run.state.message if run.state else "") or ""
        raise TrainingFailed(
            f"training run {run.name} on deployment {settings.train_deployment} ended {state}: {message}".rstrip(": ")
            + "; re-attempt training to resume from the last checkpoint (no credits were charged)"
        )
    storage = Storage.from_settings(settings)
    key = summary_key(f"{base}/{run_id}")
    if not storage.exists(key):
        raise NotFound(
            f"training run {run.name} completed but wrote no summary at {storage.uri(key)}: "
            "do the worker and this flow share PROVOICE_STORAGE_URI and the catalog?"
        )
    return FineTuneResult.model_validate(storage.read_json(key))


def wait_for_training(flow_run_id: UUID, lease: Heartbeat | None, poll_s: float = 2.0) -> FlowRun:
    """Wait for the training run to end. While it runs, `lease` is paused (the run renews it where it
    trains); once the PVC is no longer training (its worker died and the reaper failed the attempt),
    the orphaned run is marked crashed and this raises, so nothing waits on a dead worker. A Prefect
    API that does not answer for a while (a server restart) is waited out."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        while True:
            try:
                run = client.read_flow_run(flow_run_id)
            except Exception as exc:
                log.warning("could not read training run %s (retrying): %s", flow_run_id, exc)
                time.sleep(poll_s)
                continue
            if run.state is not None and run.state.is_final():
                if lease is not None:
                    lease.paused = False
                return run
            if lease is not None:
                lease.paused = run.state is not None and run.state.is_running()
                if not _still_training(lease):
                    lease.paused = False
                    message = "the PVC's lease lapsed: the worker running this training is gone"
                    client.set_flow_run_state(flow_run_id, Crashed(message=message), force=True)
                    raise TrainingFailed(f"training run {run.name}: {message}")
            time.sleep(poll_s)


def _still_training(lease: Heartbeat) -> bool:
    """Whether the PVC is still in this attempt; a database that does not answer is no news."""
    try:
        return lease.still_training()
    except Exception as exc:
        log.warning("could not read PVC %s (retrying): %s", lease.pvc_id, exc)
        return True
