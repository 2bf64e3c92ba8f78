"""The JSON shapes users see of catalog rows, shared by the CLI's `--json` and the HTTP API so the
two never drift apart."""

from __future__ import annotations

from provoice.catalog import Catalog, Dataset, DatasetFile, Pvc, PvcRetrain, Voice
from provoice.credits import charged_credits
from provoice.pvc.retrain import latest_decision
from provoice.pvc.service import voices_of


def file_json(f: DatasetFile) -> dict:
    return {"id": f.id, "name": f.original_name, "status": f.status, "reason": f.reason,
            "format": f.format, "size": f.size, "sha256": f.sha256, "duration_s": f.duration_s,
            "accepted_s": f.accepted_s, "segments": f.segments, "warnings": f.warnings}


def pvc_json(catalog: Catalog, pvc: Pvc) -> dict:
    voices = voices_of(catalog, pvc.id, pvc.model_id) if pvc.model_id else []
    retrain = latest_decision(catalog, pvc.id)
    return {"id": pvc.id, "name": pvc.name, "status": pvc.status, "step": pvc.step, "reason": pvc.reason,
            "attempts": pvc.attempts, "dataset_id": pvc.dataset_id, "dataset_version": pvc.dataset_version,
            "base_model_id": pvc.base_model_id, "model_id": pvc.model_id,
            "voices": [{"id": v.id, "name": v.name, "source_file_id": v.source_file_id, "preview_uri": v.preview_uri}
                       for v in voices],
            "evaluation": pvc.evaluation or None,
            "voices_note": voices_note(pvc, len(voices)),
            "charged_credits": float(charged_credits(catalog, pvc.account_id, pvc.id)),
            "auto_retrain": bool(pvc.auto_retrain),
            "latest_retrain": retrain and retrain_json(retrain)}


def retrain_json(r: PvcRetrain) -> dict:
    """One retrain decision: the base model it was about, both models' scores and why."""
    return {"id": r.id, "pvc_id": r.pvc_id, "base_model_id": r.base_model_id, "decision": r.decision,
            "reason": r.reason, "old_base_model_id": r.old_base_model_id, "old_model_id": r.old_model_id,
            "new_model_id": r.new_model_id, "old_evaluation": r.old_evaluation or None,
            "new_evaluation": r.new_evaluation or None, "started_at": r.started_at.isoformat(),
            "decided_at": r.decided_at.isoformat()}


def voices_note(pvc: Pvc, count: int) -> str | None:
    """Why a completed PVC has fewer than four voices: one voice per distinct source file."""
    from provoice.pvc.voices import VOICES_PER_PVC

    if pvc.status != "completed" or count >= VOICES_PER_PVC:
        return None
    return (f"{count} voice(s) instead of {VOICES_PER_PVC}: each voice comes from a different source file "
            f"and the dataset has only {count} usable file(s); add recordings for more voices")


def voice_json(v: Voice) -> dict:
    return {"id": v.id, "name": v.name, "model_id": v.model_id, "pvc_id": v.pvc_id,
            "source_file_id": v.source_file_id, "preview_uri": v.preview_uri}


def dataset_row_json(catalog: Catalog, ds: Dataset) -> dict:
    """One line of a dataset listing."""
    return {"id": ds.id, "name": ds.name, "created_at": ds.created_at.isoformat(), "files": len(catalog.files(ds.id))}


def dataset_json(catalog: Catalog, ds: Dataset) -> dict:
    """A dataset with its files and its latest completed preparation (None before the first)."""
    run = catalog.latest_run(ds.id)
    return {"id": ds.id, "name": ds.name, "created_at": ds.created_at.isoformat(),
            "files": [file_json(f) for f in catalog.files(ds.id)],
            "latest_preparation": run and {"version": run.version, "manifest_uri": run.manifest_uri,
                                           "report_uri": run.report_uri,
                                           "accepted_seconds": run.summary.get("accepted_seconds"),
                                           "enough": run.summary.get("enough"),
                                           "message": run.summary.get("message", "")}}
