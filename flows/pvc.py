"""The parent flow: prepare → gate on speech → fine-tune → voices → charge → notify."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from sqlalchemy import select

from flows.prepare import prepare_dataset
from flows.run_names import pvc_run_name
from flows.train import train_model
from provoice.catalog import Catalog, Pvc
from provoice.consent import ConsentRequired, check_dataset_voice, how_to_consent
from provoice.dataset.outputs import format_seconds
from provoice.errors import InvalidSource, NotEnoughSpeech, ProVoiceError, is_infrastructure_failure
from provoice.pvc.budget import Budget
from provoice.pvc.lifecycle import WORKER_LOST, Heartbeat
from provoice.pvc.service import create_pvc, get_pvc, set_step
from provoice.pvc.status import PvcStep
from provoice.pvc.transitions import begin_training, fail_attempt
from provoice.settings import Settings
from provoice.views import PrepareSummary, PvcRun, PvcVoiceView
from provoice.voice_models import BaseModelRegistry
from tasks.charge import charge_task
from tasks.notify import notifier
from tasks.voices import create_voices_task


def speech_gate(summary: PrepareSummary) -> None:
    """Refuse to train on too little accepted speech, saying how much there is and what was rejected."""
    if summary.enough:
        return
    rejected = sum(1 for f in summary.files if f.status == "rejected")
    raise NotEnoughSpeech(
        f"needs ≥ {format_seconds(summary.min_seconds)} of accepted speech, has "
        f"{format_seconds(summary.accepted_seconds)}; {rejected} files rejected, see the dataset's report "
        f"(`provoice dataset show {summary.dataset_id}`, GET /datasets/{summary.dataset_id})"
    )


def _worker_lost(flow, flow_run, state) -> None:
    """on_crashed / on_cancellation: the attempt this run owns ends as failed, resumable, and its owner
    is told (once: `fail_attempt` tells only whoever moved the PVC out of its running state)."""
    settings = Settings()
    catalog = Catalog(settings)
    with catalog.session() as s:
        pvc = s.scalars(select(Pvc).where(Pvc.flow_run_id == str(flow_run.id))).first()
    if pvc is not None:
        fail_attempt(
            catalog,
            pvc.id,
            WORKER_LOST
            if state.is_crashed()
            else f"the run was cancelled ({state.name}); re-attempt training to resume from the last "
            "checkpoint (no credits were charged)",
            "worker-lost",
            notify=notifier(settings),
            flow_run_id=str(flow_run.id),
        )


@flow(name="pro-voice-clone", flow_run_name=pvc_run_name, on_crashed=[_worker_lost], on_cancellation=[_worker_lost])
def pro_voice_clone(
    dataset_id: str | None = None,
    name: str | None = None,
    base_model_id: str | None = None,
    max_minutes: float | None = None,
    max_steps: int | None = None,
    pvc_id: str | None = None,
    retry: bool = False,
) -> PvcRun:
    """Run one attempt of a PVC; a retry resumes training from its checkpoints and repeats no success.

    No attempt starts without the speaker's verified consent (`provoice pvc consent-prompt`), and one
    whose freshly prepared dataset has moved away from the consent's voice fails, saying so.

    Started from the Prefect UI's form with a dataset, a name and a budget it creates the PVC (as a
    draft of the dataset's account) and trains it; with `pvc_id` it trains an existing one (queued
    by the API, or a draft / failed one). The attempt holds 1,000,000 credits from its start,
    charged only on success, and a lease renewed while it runs.

    Args:
        dataset_id: dataset to clone the voice from; a new PVC is created for it.
        name: name of the new PVC.
        base_model_id: base model to fine-tune; empty means the latest.
        max_minutes: training budget in minutes; default: the PVC's own budget, else PROVOICE_PVC_TRAIN_MINUTES.
        max_steps: training budget in optimizer steps.
        pvc_id: an existing PVC to train instead of creating one.
        retry: resume a failed PVC (`pvc_id`) from its last checkpoint.
    """
    settings = Settings()
    catalog = Catalog(settings)
    from_form = pvc_id is None
    pvc_id = pvc_id or new_pvc_from_form(settings, catalog, dataset_id, name, base_model_id).id
    context = FlowRunContext.get()
    run_id = str(context.flow_run.id) if context and context.flow_run else None
    try:
        pvc = begin_training(
            catalog, settings, pvc_id, retry=retry, budget=Budget(max_steps, max_minutes), flow_run_id=run_id
        )
    except ConsentRequired as exc:
        if from_form:
            raise ConsentRequired(
                f"created PVC {pvc_id} as a draft; it trains once its speaker's consent is "
                f"verified: {how_to_consent(pvc_id)}, then run this deployment again with "
                f"pvc_id {pvc_id}"
            ) from exc
        raise
    voices: list[PvcVoiceView] = []
    with Heartbeat(catalog, settings, pvc_id) as lease:
        try:
            summary = prepare_dataset(pvc.dataset_id)
            set_step(catalog, pvc_id, PvcStep.TRAINING, dataset_version=summary.version)
            check_dataset_voice(catalog, settings, pvc, summary.version, summary.report_uri)
            speech_gate(summary)
            trained = train_model(
                settings,
                pvc.dataset_id,
                base_model_id=pvc.base_model_id,
                run_id=pvc.id,
                max_steps=pvc.budget_steps,
                max_minutes=pvc.budget_minutes,
                dataset_version=summary.version,
                lease=lease,
            )
            set_step(catalog, pvc_id, PvcStep.CREATING_VOICES, model_id=trained.model_id)
            voices = create_voices_task(settings, pvc_id, trained.model_id, summary.manifest_uri)
            set_step(catalog, pvc_id, PvcStep.CHARGING, evaluation=trained.evaluation.model_dump())
            charge_task(settings, pvc_id, [v.id for v in voices])
        except BaseException as exc:
            reason, kind = failure_reason(exc)
            get_run_logger().error("PVC %s failed: %s", pvc_id, reason)
            fail_attempt(
                catalog,
                pvc_id,
                reason,
                kind,
                voice_ids=[v.id for v in voices],
                notify=notifier(settings),
                flow_run_id=run_id,
            )
            raise
    pvc = get_pvc(catalog, pvc_id)
    return PvcRun(id=pvc.id, status=pvc.status, model_id=pvc.model_id, voices=voices)


def failure_reason(exc: BaseException) -> tuple[str, str | None]:
    """What a user reads about a failed attempt, and its kind ("infrastructure" or None)."""
    if is_infrastructure_failure(exc):
        return (
            f"infrastructure error (storage, database or Prefect API), not a problem with your data: "
            f"{type(exc).__name__}: {exc}; re-attempt training once the service is back",
            "infrastructure",
        )
    if isinstance(exc, ProVoiceError):
        return str(exc), None
    return f"internal error: {type(exc).__name__}: {exc}", None


def new_pvc_from_form(
    settings: Settings, catalog: Catalog, dataset_id: str | None, name: str | None, base_model_id: str | None
) -> Pvc:
    """A draft PVC from the deployment form's fields, refusing an incomplete form with what is missing."""
    missing = [n for n, v in (("dataset_id", dataset_id), ("name", name)) if not v]
    if missing:
        raise InvalidSource(f"give pvc_id, or dataset_id and name to create a PVC (missing: {', '.join(missing)})")
    dataset = catalog.get_dataset(dataset_id)
    base = BaseModelRegistry(settings, catalog).get(base_model_id or "latest")
    pvc = create_pvc(catalog, dataset.account_id, dataset.id, name, base.id, settings=settings)
    get_run_logger().info("created PVC %s (%r) on dataset %s with base model %s", pvc.id, name, dataset.id, base.id)
    return pvc
