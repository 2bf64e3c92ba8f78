"""The parent flow: prepare → gate on speech → fine-tune → voices → charge → notify."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.prepare import prepare_dataset
from flows.train import train_model
from provoice.catalog import Catalog, Pvc
from provoice.credits import PVC_TRAINING_CREDITS, require_balance
from provoice.dataset.outputs import format_seconds
from provoice.errors import InvalidSource, NotEnoughSpeech, ProVoiceError
from provoice.notify import Notification
from provoice.pvc.service import claim, create_pvc, finish, get_pvc, set_step
from provoice.settings import Settings
from provoice.views import PrepareSummary, PvcRun, PvcVoiceView
from provoice.voice_models import BaseModelRegistry
from tasks.charge import charge_task
from tasks.notify import notify_task
from tasks.voices import create_voices_task


def speech_gate(summary: PrepareSummary) -> None:
    """Refuse to train on too little accepted speech, saying how much there is and what was rejected."""
    if summary.enough:
        return
    rejected = sum(1 for f in summary.files if f.status == "rejected")
    raise NotEnoughSpeech(
        f"needs ≥ {format_seconds(summary.min_seconds)} of accepted speech, has "
        f"{format_seconds(summary.accepted_seconds)}; {rejected} files rejected, see report "
        f"{summary.report_uri}")


@flow(name="pro-voice-clone")
def pro_voice_clone(dataset_id: str | None = None, name: str | None = None, base_model_id: str | None = None,
                    max_minutes: float | None = None, max_steps: int | None = None,
                    pvc_id: str | None = None, retry: bool = False) -> PvcRun:
    """Run one attempt of a PVC; a retry resumes training from its checkpoints and repeats no success.

    Started from the Prefect UI's form with a dataset, a name and a budget it creates the PVC (as a
    draft of the dataset's account) and trains it; with `pvc_id` it trains an existing one.

    Args:
        dataset_id: dataset to clone the voice from; a new PVC is created for it.
        name: name of the new PVC.
        base_model_id: base model to fine-tune; empty means the latest.
        max_minutes: training budget in minutes; default PROVOICE_PVC_TRAIN_MINUTES unless max_steps is set.
        max_steps: training budget in optimizer steps.
        pvc_id: an existing PVC to train instead of creating one.
        retry: resume a failed PVC (`pvc_id`) from its last checkpoint.
    """
    settings = Settings()
    catalog = Catalog(settings)
    pvc_id = pvc_id or new_pvc_from_form(settings, catalog, dataset_id, name, base_model_id).id
    pvc = get_pvc(catalog, pvc_id)
    require_balance(catalog, pvc.account_id, PVC_TRAINING_CREDITS)
    pvc = claim(catalog, pvc_id, retry=retry)
    voices: list[PvcVoiceView] = []
    try:
        summary = prepare_dataset(pvc.dataset_id)
        set_step(catalog, pvc_id, "training", dataset_version=summary.version)
        speech_gate(summary)
        trained = train_model(settings, pvc.dataset_id, base_model_id=pvc.base_model_id, run_id=pvc.id,
                              max_steps=max_steps, dataset_version=summary.version,
                              max_minutes=max_minutes if max_minutes or max_steps else settings.pvc_train_minutes)
        set_step(catalog, pvc_id, "creating voices", model_id=trained.model_id)
        voices = create_voices_task(settings, pvc_id, trained.model_id, summary.manifest_uri)
        set_step(catalog, pvc_id, "charging", evaluation=trained.evaluation.model_dump())
        charge_task(settings, pvc.account_id, pvc_id, trained.model_id)
        pvc = finish(catalog, pvc_id, "completed")
    except BaseException as exc:
        reason = str(exc) if isinstance(exc, ProVoiceError) else f"internal error: {type(exc).__name__}: {exc}"
        get_run_logger().error("PVC %s failed: %s", pvc_id, reason)
        pvc = finish(catalog, pvc_id, "failed", reason=reason)
        notify_task(settings, _notification(pvc, voices), _webhooks(settings, pvc), settings.notify_blocks)
        raise
    notify_task(settings, _notification(pvc, voices), _webhooks(settings, pvc), settings.notify_blocks)
    return PvcRun(id=pvc.id, status=pvc.status, model_id=pvc.model_id, voices=voices)


def new_pvc_from_form(settings: Settings, catalog: Catalog, dataset_id: str | None, name: str | None,
                      base_model_id: str | None) -> Pvc:
    """A draft PVC from the deployment form's fields, refusing an incomplete form with what is missing."""
    missing = [n for n, v in (("dataset_id", dataset_id), ("name", name)) if not v]
    if missing:
        raise InvalidSource(f"give pvc_id, or dataset_id and name to create a PVC (missing: {', '.join(missing)})")
    dataset = catalog.get_dataset(dataset_id)
    base = BaseModelRegistry(settings, catalog).get(base_model_id or "latest")
    pvc = create_pvc(catalog, dataset.account_id, dataset.id, name, base.id)
    get_run_logger().info("created PVC %s (%r) on dataset %s with base model %s", pvc.id, name, dataset.id, base.id)
    return pvc


def _notification(pvc, voices: list[PvcVoiceView]) -> Notification:
    return Notification(pvc_id=pvc.id, pvc_name=pvc.name, status=pvc.status, model_id=pvc.model_id,
                        voice_ids=[v.id for v in voices], reason=pvc.reason)


def _webhooks(settings: Settings, pvc) -> list[str]:
    return [u for u in (pvc.webhook_url, settings.notify_webhook_url) if u]
