"""Retraining a completed PVC on a new base model: which PVCs are due, whether the new model may
replace the old one, and recording that decision in the catalog.

A new model has to earn its place: it is promoted only when it is not worse than the old model on
word error rate and speaker similarity, both measured on the same held-out clips of the PVC's
pinned dataset version, within tolerances that absorb evaluation noise. Every outcome (promoted,
kept or failed) is recorded once per (PVC, base model), which is what stops the daily run from
training the same thing again; only a failed one may be recorded over, by an explicit retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provoice.catalog import Catalog, Pvc, PvcRetrain, rows_changed
from provoice.catalog.models import utcnow
from provoice.errors import NotFound
from provoice.pvc.service import PvcRefused
from provoice.pvc.status import PvcStatus
from provoice.settings import Settings
from provoice.views import EVALUATION_SCORES, Evaluation

# Evaluation scores are rounded to 4 decimals; a tie at the tolerance's edge must not flip on float error.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str

    @property
    def outcome(self) -> str:
        return "promoted" if self.promoted else "kept"


def decide(
    old: dict, new: dict, settings: Settings, *, old_sentences: Sequence[dict] = (), new_sentences: Sequence[dict] = ()
) -> Decision:
    """Promote the new model only if neither WER nor speaker similarity got worse by more than the
    settings' tolerances; the reason names every measurement either way.

    Given both evaluations' per-sentence rows, the comparison is paired: only sentences both models
    said are compared, so a different sentence set cannot pass for a better model, and the reason
    says on how many. The tolerances are larger than the evaluation's measured spread
    (docs/BENCHMARKS.md), so evaluation noise alone cannot flip the decision.

    A score that could not be measured for the new model counts against it (nothing shows it is not
    worse); one missing only for the old model cannot be compared and does not block. Speaker
    similarity missing for both (no held-out reference clips) leaves WER to decide, and says so.
    """
    paired = _paired(old_sentences, new_sentences)
    if paired is not None:
        count, old, new = paired
    checks = [
        _wer_check(old.get("wer"), new.get("wer"), settings.retrain_wer_tolerance),
        _similarity_check(
            old.get("speaker_similarity"), new.get("speaker_similarity"), settings.retrain_similarity_tolerance
        ),
    ]
    basis = ""
    if paired is not None:
        sentences = len({text for text, _ in count})
        readings = f", {len(count)} readings" if len(count) != sentences else ""
        basis = f" (paired on the same {sentences} sentences{readings})"
    worse = [text for ok, text in checks if not ok]
    if worse:
        return Decision(False, f"kept the old model{basis}: " + "; ".join(worse))
    return Decision(True, f"promoted the new model, not worse{basis}: " + "; ".join(text for _, text in checks))


def _paired(old_rows: Sequence[dict], new_rows: Sequence[dict]) -> tuple[list[tuple], dict, dict] | None:
    """Mean WER and similarity of both models over the (sentence, synthesis seed) readings both
    were scored on; the common readings come first."""

    def by_reading(rows: Sequence[dict]) -> dict:
        return {(r["text"], r.get("seed", 0)): r for r in rows}

    old_by, new_by = by_reading(old_rows), by_reading(new_rows)
    common = [t for t in old_by if t in new_by]
    if not common:
        return None

    def means(by: dict) -> dict:
        sims = [by[t].get("speaker_similarity") for t in common]
        return {
            "wer": sum(by[t]["wer"] for t in common) / len(common),
            "speaker_similarity": None if any(x is None for x in sims) else sum(sims) / len(sims),
        }

    return common, means(old_by), means(new_by)


def _wer_check(old: float | None, new: float | None, tolerance: float) -> tuple[bool, str]:
    if new is None:
        return False, "the new model's word error rate could not be measured"
    if old is None:
        return True, f"word error rate {new:.1%} (the old model's could not be measured)"
    limit = old + tolerance
    if new <= limit + _EPSILON:
        return True, f"word error rate {old:.1%} → {new:.1%} (allowed up to {limit:.1%})"
    return False, (
        f"word error rate rose from {old:.1%} to {new:.1%}, above the allowed {limit:.1%} (tolerance {tolerance:.1%})"
    )


def _similarity_check(old: float | None, new: float | None, tolerance: float) -> tuple[bool, str]:
    if old is None and new is None:
        return True, "speaker similarity not compared: neither model could be measured (no held-out reference clips)"
    if new is None:
        return False, f"the new model's speaker similarity could not be measured (old model: {old:.3f})"
    if old is None:
        return True, f"speaker similarity {new:.3f} (the old model's could not be measured)"
    floor = old - tolerance
    if new >= floor - _EPSILON:
        return True, f"speaker similarity {old:.3f} → {new:.3f} (allowed down to {floor:.3f})"
    return False, (
        f"speaker similarity fell from {old:.3f} to {new:.3f}, below the allowed {floor:.3f} "
        f"(tolerance {tolerance:.3f})"
    )


def scores(evaluation: Evaluation) -> dict:
    """The comparable part of an evaluation, as a decision records it (per-sentence rows are left out)."""
    return evaluation.model_dump(mode="json", include=set(EVALUATION_SCORES))


def retrain_run_id(pvc_id: str, base_model_id: str) -> str:
    """The same for the same (PVC, base model), so a retried run resumes its checkpoints; never the
    PVC's own run id, whose checkpoints belong to the old base."""
    return f"{pvc_id}-retrain-{hashlib.sha256(base_model_id.encode()).hexdigest()[:10]}"


def skip_reason(pvc: Pvc, base_model_id: str, previous: PvcRetrain | None, *, retry_failed: bool = False) -> str | None:
    """Why the PVC is not retrained on `base_model_id` now, or None when it is due."""
    if pvc.status != PvcStatus.COMPLETED or not pvc.model_id:
        return f"PVC {pvc.id} is {pvc.status}; only completed PVCs are retrained"
    if not pvc.auto_retrain:
        return f"auto-retrain is off for PVC {pvc.id} (turn it on: `provoice pvc auto-retrain {pvc.id} --on`)"
    if pvc.base_model_id == base_model_id:
        return f"PVC {pvc.id} is already on base model {base_model_id}"
    if previous is not None and not (retry_failed and previous.decision == "failed"):
        return (
            f"PVC {pvc.id} was already retrained on base model {base_model_id}: {previous.decision} "
            f"at {previous.decided_at:%Y-%m-%d %H:%M} ({previous.reason})"
        )
    return None


def candidates(catalog: Catalog, base_model_id: str) -> list[Pvc]:
    """Completed auto-retrain PVCs on another base that have no decision for this base yet, oldest first."""
    with catalog.session() as s:
        pvcs = list(
            s.scalars(
                select(Pvc)
                .where(
                    Pvc.status == PvcStatus.COMPLETED, Pvc.auto_retrain.is_(True), Pvc.base_model_id != base_model_id
                )
                .order_by(Pvc.created_at)
            )
        )
        decided = {r.pvc_id: r for r in s.scalars(select(PvcRetrain).where(PvcRetrain.base_model_id == base_model_id))}
    return [p for p in pvcs if skip_reason(p, base_model_id, decided.get(p.id)) is None]


def pinned_manifest(catalog: Catalog, pvc: Pvc) -> str:
    """The manifest of the dataset version the PVC was trained on: retraining never sees newer data."""
    if not pvc.dataset_version:
        raise NotFound(f"PVC {pvc.id} has no pinned dataset version, so there is nothing to retrain it on")
    manifest = catalog.prepared_version(pvc.dataset_id, pvc.dataset_version).manifest_uri
    if manifest is None:
        raise NotFound(
            f"dataset {pvc.dataset_id} version {pvc.dataset_version} has no manifest to retrain PVC {pvc.id} on"
        )
    return manifest


def decisions(catalog: Catalog, pvc_id: str) -> list[PvcRetrain]:
    """Every retrain decision of the PVC, oldest first."""
    with catalog.session() as s:
        return list(
            s.scalars(
                select(PvcRetrain).where(PvcRetrain.pvc_id == pvc_id).order_by(PvcRetrain.decided_at, PvcRetrain.id)
            )
        )


def latest_decision(catalog: Catalog, pvc_id: str) -> PvcRetrain | None:
    with catalog.session() as s:
        return s.scalars(
            select(PvcRetrain)
            .where(PvcRetrain.pvc_id == pvc_id)
            .order_by(PvcRetrain.decided_at.desc(), PvcRetrain.id.desc())
        ).first()


def decision_for(catalog: Catalog, pvc_id: str, base_model_id: str) -> PvcRetrain | None:
    with catalog.session() as s:
        return s.scalars(
            select(PvcRetrain).where(PvcRetrain.pvc_id == pvc_id, PvcRetrain.base_model_id == base_model_id)
        ).first()


def record(
    catalog: Catalog,
    pvc: Pvc,
    base_model_id: str,
    decision: str,
    reason: str,
    *,
    started_at: datetime,
    new_model_id: str | None = None,
    old_evaluation: dict | None = None,
    new_evaluation: dict | None = None,
) -> PvcRetrain:
    """Record a `kept` or `failed` retrain; the PVC itself is left as it is."""
    if decision not in ("kept", "failed"):
        raise ValueError(f"record() is for kept or failed retrains, not {decision!r}; promote() moves the PVC")
    return _commit(
        catalog,
        pvc,
        base_model_id,
        lambda s: None,
        decision=decision,
        reason=reason,
        started_at=started_at,
        new_model_id=new_model_id,
        old_evaluation=old_evaluation or {},
        new_evaluation=new_evaluation or {},
    )


def promote(
    catalog: Catalog,
    pvc: Pvc,
    base_model_id: str,
    new_model_id: str,
    *,
    reason: str,
    started_at: datetime,
    old_evaluation: dict,
    new_evaluation: dict,
) -> PvcRetrain:
    """Move the PVC to the new model (model id, base model, evaluation) and record it, in one
    transaction. The old model and its voices stay as they are, so text-to-speech with them works on.
    Refused when the PVC's model changed since `pvc` was read."""

    def move(s: Session) -> None:
        moved = rows_changed(
            s,
            update(Pvc)
            .where(Pvc.id == pvc.id, Pvc.status == PvcStatus.COMPLETED, Pvc.model_id == pvc.model_id)
            .values(model_id=new_model_id, base_model_id=base_model_id, evaluation=new_evaluation, updated_at=utcnow()),
        )
        if moved != 1:
            raise PvcRefused(
                f"PVC {pvc.id} changed while it was retrained (it was completed with model "
                f"{pvc.model_id}); the new model {new_model_id} was not promoted"
            )

    return _commit(
        catalog,
        pvc,
        base_model_id,
        move,
        decision="promoted",
        reason=reason,
        started_at=started_at,
        new_model_id=new_model_id,
        old_evaluation=old_evaluation,
        new_evaluation=new_evaluation,
    )


def _commit(catalog: Catalog, pvc: Pvc, base_model_id: str, also: Callable[[Session], None], **fields) -> PvcRetrain:
    """Insert the decision, or overwrite a failed one; a promoted or kept one is final."""
    values = {**fields, "old_base_model_id": pvc.base_model_id, "old_model_id": pvc.model_id, "decided_at": utcnow()}
    try:
        with catalog.session() as s:
            row = s.scalars(
                select(PvcRetrain).where(PvcRetrain.pvc_id == pvc.id, PvcRetrain.base_model_id == base_model_id)
            ).first()
            if row is not None and row.decision != "failed":
                raise PvcRefused(_already(row))
            if row is None:
                row = PvcRetrain(pvc_id=pvc.id, base_model_id=base_model_id)
                s.add(row)
            for k, v in values.items():
                setattr(row, k, v)
            also(s)
    except IntegrityError:
        raise PvcRefused(_already(decision_for(catalog, pvc.id, base_model_id))) from None
    return row


def _already(row: PvcRetrain | None) -> str:
    if row is None:
        return "another run recorded a retrain decision at the same time"
    return f"PVC {row.pvc_id} was already {row.decision} for base model {row.base_model_id} ({row.reason})"


def report_markdown(pvc: Pvc, row: PvcRetrain) -> str:
    """The decision as a Prefect markdown artifact: both models side by side and the reason."""

    def fmt(evaluation: dict, key: str, spec: str) -> str:
        value = (evaluation or {}).get(key)
        return "—" if value is None else format(value, spec)

    lines = [
        f"# Retrain of PVC {pvc.name!r} (`{pvc.id}`) on base model `{row.base_model_id}`: {row.decision}",
        "",
        row.reason,
        "",
        "| | model | WER | speaker similarity | DNSMOS |",
        "|---|---|---|---|---|",
    ]
    for label, model, evaluation in (
        ("old", row.old_model_id, row.old_evaluation),
        ("new", row.new_model_id, row.new_evaluation),
    ):
        lines.append(
            f"| {label} | `{model or '—'}` | {fmt(evaluation, 'wer', '.1%')} | "
            f"{fmt(evaluation, 'speaker_similarity', '.3f')} | {fmt(evaluation, 'dnsmos', '.2f')} |"
        )
    if row.decision == "promoted":
        lines += [
            "",
            f"The PVC now uses `{row.new_model_id}` with new voices; the voices of "
            f"`{row.old_model_id}` keep working with that model.",
        ]
    elif row.decision == "kept":
        lines += ["", f"The PVC keeps `{row.old_model_id}` and its voices."]
    return "\n".join(lines)
