"""Retrain auto-retrain PVCs on a new base model; the new model replaces the old one only if it is
not worse on word error rate and speaker similarity."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.run_names import retrain_run_name
from flows.train import train_model
from provoice.catalog import Catalog, Pvc, PvcRetrain
from provoice.catalog.models import utcnow
from provoice.catalog.pvc_models import RETRAIN_DECISIONS
from provoice.consent import require_consent
from provoice.errors import ProVoiceError
from provoice.notify import RETRAINED, Notification
from provoice.pvc.retrain import (
    candidates,
    decide,
    decision_for,
    pinned_manifest,
    promote,
    record,
    report_markdown,
    retrain_run_id,
    scores,
    skip_reason,
)
from provoice.pvc.service import PvcRefused, get_pvc
from provoice.settings import Settings
from provoice.voice_models import BaseModelRegistry, recipe_for
from tasks.manifest import artifact_key
from tasks.notify import notify_task
from tasks.train import evaluate_task
from tasks.voices import create_voices_task


@flow(name="retrain-on-new-base-model", flow_run_name=retrain_run_name)
def retrain_on_new_base_model(
    base_model_id: str | None = None,
    pvc_id: str | None = None,
    max_steps: int | None = None,
    max_minutes: float | None = None,
) -> dict:
    """Fine-tune each due PVC on the base model from its pinned dataset version, evaluate the old and
    the new model on the same held-out clips, and promote the new one only if it is not worse.

    Due: completed PVCs with auto-retrain on, on another base model, with no decision recorded for
    this base yet, so the daily schedule never trains the same (PVC, base) twice. Promoting gives
    the PVC the new model, its evaluation and new voices and notifies the owner
    (`provoice.pvc.retrained`); the old voices stay with the old model and keep working. Keeping
    records why. A PVC that fails is recorded as failed and the others go on; so is one whose
    consent is no longer valid (a retrain reuses the PVC's consent, on the same pinned dataset).
    Automatic retraining charges no credits.

    Args:
        base_model_id: the new base model; empty means the latest.
        pvc_id: only this PVC (it must still be due; one whose retrain on this base failed is retried).
        max_steps: training budget in optimizer steps.
        max_minutes: training budget in minutes; default PROVOICE_PVC_TRAIN_MINUTES unless max_steps is set.
    """
    settings = Settings()
    catalog = Catalog(settings)
    logger = get_run_logger()
    base = BaseModelRegistry(settings, catalog).get(base_model_id or "latest").id
    if pvc_id:
        pvc = get_pvc(catalog, pvc_id)
        why = skip_reason(pvc, base, decision_for(catalog, pvc.id, base), retry_failed=True)
        due, skipped = ([], [{"pvc_id": pvc.id, "reason": why}]) if why else ([pvc], [])
    else:
        due, skipped = candidates(catalog, base), []
    for s in skipped:
        logger.info("not retraining: %s", s["reason"])
    logger.info("%d PVC(s) to retrain on base model %s", len(due), base)
    minutes = max_minutes if max_minutes or max_steps else recipe_for(settings).default_minutes(settings)
    results = [retrain_pvc(settings, catalog, pvc, base, max_steps=max_steps, max_minutes=minutes) for pvc in due]
    counts = {o: sum(r["decision"] == o for r in results) for o in RETRAIN_DECISIONS}
    if results:
        create_markdown_artifact(_run_table(base, results), description=f"Retrains on base model {base}")
    return {"base_model_id": base, "counts": counts, "results": results, "skipped": skipped}


def retrain_pvc(
    settings: Settings,
    catalog: Catalog,
    pvc: Pvc,
    base_model_id: str,
    *,
    max_steps: int | None,
    max_minutes: float | None,
) -> dict:
    """One PVC: train, evaluate both models, decide, record; any error is recorded as `failed`."""
    logger = get_run_logger()
    started = utcnow()
    new_model_id, old_evaluation, new_evaluation, voices, promoted = None, {}, {}, [], False
    try:
        require_consent(catalog, settings, pvc)
        manifest_uri = pinned_manifest(catalog, pvc)
        trained = train_model(
            settings,
            pvc.dataset_id,
            base_model_id=base_model_id,
            run_id=retrain_run_id(pvc.id, base_model_id),
            max_steps=max_steps,
            max_minutes=max_minutes,
            dataset_version=pvc.dataset_version,
        )
        new_model_id = trained.model_id
        # Paired scores are all the decision reads: no ceiling or base floor to compute. Each model's
        # scores are kept once made, so the new model's come back from its fine-tune's evaluation.
        old_full = evaluate_task(settings, pvc.model_id, manifest_uri, with_references=False)
        new_full = evaluate_task(settings, new_model_id, manifest_uri, with_references=False)
        old_evaluation, new_evaluation = scores(old_full), scores(new_full)
        decision = decide(
            old_evaluation, new_evaluation, settings, old_sentences=old_full.sentences, new_sentences=new_full.sentences
        )
        if decision.promoted:
            voices = create_voices_task(settings, pvc.id, new_model_id, manifest_uri)
            row = promote(
                catalog,
                pvc,
                base_model_id,
                new_model_id,
                reason=decision.reason,
                started_at=started,
                old_evaluation=old_evaluation,
                new_evaluation=new_evaluation,
            )
            promoted = True
        else:
            row = record(
                catalog,
                pvc,
                base_model_id,
                "kept",
                decision.reason,
                started_at=started,
                new_model_id=new_model_id,
                old_evaluation=old_evaluation,
                new_evaluation=new_evaluation,
            )
    except Exception as exc:  # one PVC's failure is its own record; the other PVCs go on
        reason = str(exc) if isinstance(exc, ProVoiceError) else f"internal error: {type(exc).__name__}: {exc}"
        logger.error("retraining PVC %s on %s failed: %s", pvc.id, base_model_id, reason)
        row = _record_failure(
            catalog,
            pvc,
            base_model_id,
            reason,
            started_at=started,
            new_model_id=new_model_id,
            old_evaluation=old_evaluation,
            new_evaluation=new_evaluation,
        )
    logger.info("PVC %s on base model %s: %s (%s)", pvc.id, base_model_id, row.decision, row.reason)
    create_markdown_artifact(
        report_markdown(pvc, row),
        key=artifact_key("retrain", pvc.id),
        description=f"Retrain of PVC {pvc.id} on base model {base_model_id}",
    )
    if promoted:
        notify_task(
            settings,
            Notification(
                pvc_id=pvc.id,
                pvc_name=pvc.name,
                status=RETRAINED,
                model_id=row.new_model_id,
                voice_ids=[v.id for v in voices],
                reason=row.reason,
                previous_model_id=row.old_model_id,
            ),
            [pvc.webhook_url] if pvc.webhook_url else [],
            settings.notify_blocks,
        )
    return {
        "pvc_id": pvc.id,
        "decision": row.decision,
        "reason": row.reason,
        "old_model_id": row.old_model_id,
        "new_model_id": row.new_model_id,
        "old_evaluation": row.old_evaluation or None,
        "new_evaluation": row.new_evaluation or None,
        "voices": [v.model_dump() for v in voices] if promoted else [],
    }


def _record_failure(catalog: Catalog, pvc: Pvc, base_model_id: str, reason: str, **fields) -> PvcRetrain:
    """The failure, or, when a concurrent run decided this (PVC, base) first, that run's decision."""
    try:
        return record(catalog, pvc, base_model_id, "failed", reason, **fields)
    except PvcRefused as exc:
        get_run_logger().warning("not recording the failure: %s", exc)
        return decision_for(catalog, pvc.id, base_model_id)


def _run_table(base_model_id: str, results: list[dict]) -> str:
    lines = [
        f"# Retrains on base model `{base_model_id}`",
        "",
        "| PVC | decision | new model | reason |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{r['pvc_id']}` | {r['decision']} | `{r['new_model_id'] or '—'}` | {r['reason']} |" for r in results]
    return "\n".join(lines)
