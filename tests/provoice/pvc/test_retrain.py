from datetime import timedelta

import pytest

from provoice.accounts import default_account
from provoice.catalog import Pvc
from provoice.catalog.models import utcnow
from provoice.errors import NotFound
from provoice.pvc.queries import pvc_view
from provoice.pvc.retrain import (
    candidates,
    decide,
    decision_for,
    decisions,
    latest_decision,
    pinned_manifest,
    promote,
    record,
    report_markdown,
    retrain_run_id,
    scores,
    skip_reason,
)
from provoice.pvc.service import PvcRefused, create_pvc, get_pvc, set_auto_retrain
from provoice.pvc.status import PvcStatus
from provoice.settings import Settings
from tests.pvc_states import set_status

pytestmark = pytest.mark.both_databases


def ev(wer, sim, dnsmos=3.0) -> dict:
    return {"wer": wer, "speaker_similarity": sim, "dnsmos": dnsmos}


@pytest.mark.parametrize(
    "old, new, promoted, says",
    [
        (ev(0.10, 0.80), ev(0.05, 0.85), True, "word error rate 10.0% → 5.0% (allowed up to 13.0%)"),
        (ev(0.10, 0.80), ev(0.11, 0.79), True, "speaker similarity 0.800 → 0.790 (allowed down to 0.790)"),
        (ev(0.30, 0.80), ev(0.31, 0.80), True, "word error rate 30.0% → 31.0%"),
        (ev(0.10, 0.80), ev(0.1301, 0.80), False, "word error rate rose from 10.0% to 13.0%, above the allowed 13.0%"),
        (
            ev(0.10, 0.80),
            ev(0.10, 0.7899),
            False,
            "speaker similarity fell from 0.800 to 0.790, below the allowed 0.790",
        ),
        (ev(0.10, None), ev(0.10, None), True, "speaker similarity not compared: neither model could be measured"),
        (ev(0.10, None), ev(0.50, None), False, "word error rate rose from 10.0% to 50.0%"),
        (
            ev(0.10, 0.80),
            ev(0.05, None),
            False,
            "the new model's speaker similarity could not be measured (old model: 0.800)",
        ),
        (ev(0.10, None), ev(0.05, 0.70), True, "speaker similarity 0.700 (the old model's could not be measured)"),
        (ev(0.10, 0.80), ev(None, 0.90), False, "the new model's word error rate could not be measured"),
    ],
)
def test_decide_promotes_only_what_is_not_worse(settings, old, new, promoted, says):
    decision = decide(old, new, settings)
    assert decision.promoted is promoted and decision.outcome == ("promoted" if promoted else "kept")
    assert decision.reason.startswith("promoted the new model, not worse: " if promoted else "kept the old model: ")
    assert says in decision.reason


def test_decide_names_every_regression_and_follows_the_tolerances(settings):
    both = decide(ev(0.10, 0.80), ev(0.20, 0.60), settings)
    assert not both.promoted and "word error rate rose" in both.reason and "speaker similarity fell" in both.reason
    strict = settings.model_copy(update={"retrain_wer_tolerance": 0.0, "retrain_similarity_tolerance": 0.0})
    assert decide(ev(0.10, 0.80), ev(0.10, 0.80), strict).promoted
    assert not decide(ev(0.10, 0.80), ev(0.1001, 0.80), strict).promoted
    loose = settings.model_copy(update={"retrain_wer_tolerance": 0.5, "retrain_similarity_tolerance": 0.5})
    assert decide(ev(0.10, 0.80), ev(0.20, 0.60), loose).promoted


def test_decide_pairs_the_sentences_both_models_said(settings):
    def rows(*wers, sim=0.8):
        return [{"text": f"sentence {i}", "wer": w, "speaker_similarity": sim} for i, w in enumerate(wers)]

    # Overall means say the new model is far worse, but only because it was scored on an extra hard
    # sentence: on the three sentences both said it is better.
    old_rows, new_rows = rows(0.2, 0.2, 0.2), rows(0.1, 0.1, 0.1, 0.9)
    decision = decide(ev(0.2, 0.8), ev(0.3, 0.8), settings, old_sentences=old_rows, new_sentences=new_rows)
    assert decision.promoted and "paired on the same 3 sentences" in decision.reason
    assert "word error rate 20.0% → 10.0%" in decision.reason
    worse = decide(ev(0.2, 0.8), ev(0.2, 0.8), settings, old_sentences=rows(0.1, 0.1), new_sentences=rows(0.1, 0.3))
    assert not worse.promoted and worse.reason.startswith("kept the old model (paired on the same 2 sentences): ")
    assert "rose from 10.0% to 20.0%" in worse.reason
    unpaired = decide(
        ev(0.2, 0.8),
        ev(0.2, 0.8),
        settings,
        old_sentences=rows(0.1),
        new_sentences=[{"text": "other", "wer": 0.0, "speaker_similarity": 0.8}],
    )
    assert unpaired.promoted and "paired" not in unpaired.reason


def test_scores_and_run_ids():
    from provoice.views import Evaluation

    assert scores(Evaluation(**ev(0.1, 0.8), sentences=[{"text": "x"}])) == ev(0.1, 0.8)
    run = retrain_run_id("pvc_abc", "base-2")
    assert run == retrain_run_id("pvc_abc", "base-2") != retrain_run_id("pvc_abc", "base-3")
    assert run.startswith("pvc_abc-retrain-") and run != "pvc_abc"


def completed(catalog, name="Narrator", base="base-1", auto=True) -> Pvc:
    """A PVC as the parent flow leaves it: completed on `base` with a pinned dataset version."""
    ds = catalog.create_dataset("d")
    pvc = create_pvc(catalog, default_account(catalog).id, ds.id, name, base, auto_retrain=auto, settings=Settings())
    return set_status(
        catalog, pvc.id, PvcStatus.COMPLETED, model_id=f"{base}/{pvc.id}", dataset_version="v1", evaluation=ev(0.1, 0.8)
    )


def test_candidates_are_completed_auto_retrain_pvcs_on_another_base_without_a_decision(catalog):
    due = completed(catalog, "due")
    off = completed(catalog, "off", auto=False)
    current = completed(catalog, "current", base="base-2")
    draft = create_pvc(
        catalog, default_account(catalog).id, due.dataset_id, "draft", "base-1", auto_retrain=True, settings=Settings()
    )
    assert [p.id for p in candidates(catalog, "base-2")] == [due.id]
    assert skip_reason(off, "base-2", None).startswith(f"auto-retrain is off for PVC {off.id}")
    assert skip_reason(current, "base-2", None) == f"PVC {current.id} is already on base model base-2"
    assert skip_reason(draft, "base-2", None) == f"PVC {draft.id} is draft; only completed PVCs are retrained"

    set_auto_retrain(catalog, off.id, True)
    assert {p.id for p in candidates(catalog, "base-2")} == {due.id, off.id}
    assert [p.id for p in candidates(catalog, "base-3")] == [due.id, off.id, current.id]


def test_a_decision_is_recorded_once_per_pvc_and_base(catalog):
    pvc = completed(catalog)
    start = utcnow()
    kept = record(
        catalog,
        pvc,
        "base-2",
        "kept",
        "kept the old model: worse",
        started_at=start,
        new_model_id="base-2/x",
        old_evaluation=ev(0.1, 0.8),
        new_evaluation=ev(0.5, 0.8),
    )
    assert candidates(catalog, "base-2") == [] and [p.id for p in candidates(catalog, "base-3")] == [pvc.id]
    assert skip_reason(pvc, "base-2", kept, retry_failed=True).startswith(
        f"PVC {pvc.id} was already retrained on base model base-2: kept at "
    )
    with pytest.raises(PvcRefused, match="was already kept for base model base-2"):
        record(catalog, pvc, "base-2", "failed", "boom", started_at=start)
    with pytest.raises(PvcRefused, match="was already kept"):
        promote(catalog, pvc, "base-2", "base-2/x", reason="r", started_at=start, old_evaluation={}, new_evaluation={})
    assert get_pvc(catalog, pvc.id).model_id == pvc.model_id
    assert [(d.decision, d.old_model_id, d.old_base_model_id) for d in decisions(catalog, pvc.id)] == [
        ("kept", pvc.model_id, "base-1")
    ]
    with pytest.raises(ValueError, match="promote"):
        record(catalog, pvc, "base-4", "promoted", "r", started_at=start)


def test_a_failed_retrain_is_retried_only_when_asked_and_promotion_moves_the_pvc(catalog):
    pvc = completed(catalog)
    start = utcnow()
    failed = record(catalog, pvc, "base-2", "failed", "disk full", started_at=start)
    assert candidates(catalog, "base-2") == []
    assert skip_reason(pvc, "base-2", failed).startswith(
        f"PVC {pvc.id} was already retrained on base model base-2: failed"
    )
    assert skip_reason(pvc, "base-2", failed, retry_failed=True) is None

    row = promote(
        catalog,
        pvc,
        "base-2",
        "base-2/new",
        reason="promoted the new model, not worse: …",
        started_at=start + timedelta(seconds=1),
        old_evaluation=ev(0.1, 0.8),
        new_evaluation=ev(0.05, 0.85),
    )
    assert row.id == failed.id and row.decision == "promoted"
    moved = get_pvc(catalog, pvc.id)
    assert (moved.model_id, moved.base_model_id, moved.evaluation) == ("base-2/new", "base-2", ev(0.05, 0.85))
    assert moved.status == "completed" and moved.dataset_version == "v1"
    assert latest_decision(catalog, pvc.id).decision == "promoted"
    assert decision_for(catalog, pvc.id, "base-2").new_model_id == "base-2/new"
    assert candidates(catalog, "base-2") == []

    with pytest.raises(PvcRefused, match="changed while it was retrained"):
        promote(
            catalog, pvc, "base-3", "base-3/new", reason="r", started_at=start, old_evaluation={}, new_evaluation={}
        )
    assert decision_for(catalog, pvc.id, "base-3") is None and get_pvc(catalog, pvc.id).model_id == "base-2/new"


def pvc_json(catalog, pvc) -> dict:
    return pvc_view(catalog, pvc).model_dump(mode="json")


def test_pvc_json_shows_auto_retrain_and_the_latest_decision(catalog):
    pvc = completed(catalog)
    shown = pvc_json(catalog, pvc)
    assert shown["auto_retrain"] is True and shown["latest_retrain"] is None
    record(
        catalog,
        pvc,
        "base-2",
        "kept",
        "kept the old model: worse",
        started_at=utcnow(),
        old_evaluation=ev(0.1, None),
        new_evaluation=ev(0.3, None),
    )
    last = pvc_json(catalog, get_pvc(catalog, pvc.id))["latest_retrain"]
    assert {k: last[k] for k in ("base_model_id", "decision", "reason", "old_model_id", "new_model_id")} == {
        "base_model_id": "base-2",
        "decision": "kept",
        "reason": "kept the old model: worse",
        "old_model_id": pvc.model_id,
        "new_model_id": None,
    }
    assert last["new_evaluation"] == ev(0.3, None)


def test_report_and_pinned_manifest(catalog):
    pvc = completed(catalog)
    row = record(
        catalog,
        pvc,
        "base-2",
        "kept",
        "kept the old model: WER",
        started_at=utcnow(),
        new_model_id="base-2/x",
        old_evaluation=ev(0.1, None, 3.1),
        new_evaluation=ev(0.25, None, 2.9),
    )
    md = report_markdown(pvc, row)
    assert md.splitlines()[0] == f"# Retrain of PVC 'Narrator' (`{pvc.id}`) on base model `base-2`: kept"
    assert "kept the old model: WER" in md and f"The PVC keeps `{pvc.model_id}`" in md
    assert f"| old | `{pvc.model_id}` | 10.0% | — | 3.10 |" in md
    assert "| new | `base-2/x` | 25.0% | — | 2.90 |" in md
    with pytest.raises(NotFound, match="has no completed preparation of version v1"):
        pinned_manifest(catalog, pvc)
