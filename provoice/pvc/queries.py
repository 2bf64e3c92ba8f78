"""What users see of PVCs, read from the catalog: a whole listing in a bounded number of queries
whatever its length."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select

from provoice.catalog import Catalog, Pvc, PvcRetrain, Voice
from provoice.catalog.models import MILLI_CREDITS, CreditEntry
from provoice.consent import consent_views
from provoice.pvc.status import PvcStatus
from provoice.views import PvcView, PvcVoiceView, RetrainView


def voices_note(pvc: Pvc, count: int) -> str | None:
    """Why a completed PVC has fewer than four voices: one voice per distinct source file."""
    from provoice.pvc.voices import VOICES_PER_PVC

    if pvc.status != PvcStatus.COMPLETED or count >= VOICES_PER_PVC:
        return None
    return (
        f"{count} voice(s) instead of {VOICES_PER_PVC}: each voice comes from a different source file "
        f"and the dataset has only {count} usable file(s); add recordings for more voices"
    )


def pvc_views(catalog: Catalog, pvcs: Sequence[Pvc]) -> list[PvcView]:
    """Views of many PVCs in five queries (voices, charges, retrain decisions, consent prompts and
    recordings), however many."""
    if not pvcs:
        return []
    ids = [p.id for p in pvcs]
    voices: dict[str, list[Voice]] = {i: [] for i in ids}
    charged: dict[tuple[str, str], Decimal] = {}
    latest: dict[str, PvcRetrain] = {}
    with catalog.session() as s:
        for v in s.scalars(select(Voice).where(Voice.pvc_id.in_(ids)).order_by(Voice.name)):
            voices[v.pvc_id].append(v)
        for reference, account, milli in s.execute(
            select(CreditEntry.reference, CreditEntry.account_id, func.sum(CreditEntry.amount))
            .where(CreditEntry.reference.in_(ids), CreditEntry.amount < 0)
            .group_by(CreditEntry.reference, CreditEntry.account_id)
        ):
            charged[(reference, account)] = -Decimal(int(milli)) / MILLI_CREDITS
        for r in s.scalars(
            select(PvcRetrain).where(PvcRetrain.pvc_id.in_(ids)).order_by(PvcRetrain.decided_at, PvcRetrain.id)
        ):
            latest[r.pvc_id] = r
    consents = consent_views(catalog, ids)
    out = []
    for pvc in pvcs:
        own = [v for v in voices[pvc.id] if pvc.model_id and v.model_id == pvc.model_id]
        retrain = latest.get(pvc.id)
        out.append(
            PvcView(
                id=pvc.id,
                name=pvc.name,
                status=pvc.status,
                step=pvc.step,
                reason=pvc.reason,
                attempts=pvc.attempts,
                dataset_id=pvc.dataset_id,
                dataset_version=pvc.dataset_version,
                base_model_id=pvc.base_model_id,
                model_id=pvc.model_id,
                voices=[PvcVoiceView.model_validate(v) for v in own],
                evaluation=pvc.evaluation or None,
                voices_note=voices_note(pvc, len(own)),
                charged_credits=float(charged.get((pvc.id, pvc.account_id), Decimal(0))),
                auto_retrain=bool(pvc.auto_retrain),
                latest_retrain=retrain and RetrainView.of(retrain),
                budget={"max_steps": pvc.budget_steps, "max_minutes": pvc.budget_minutes},
                flow_run_id=pvc.flow_run_id,
                failure_kind=pvc.failure_kind,
                loss_curve_url=f"/fine-tunes/{pvc.id}/loss-curve" if pvc.model_id else None,
                speaker_name=pvc.speaker_name or pvc.name,
                consent=consents[pvc.id],
                train_on_consent=bool(pvc.train_on_consent),
            )
        )
    return out


def pvc_view(catalog: Catalog, pvc: Pvc) -> PvcView:
    """One PVC's view."""
    return pvc_views(catalog, [pvc])[0]
