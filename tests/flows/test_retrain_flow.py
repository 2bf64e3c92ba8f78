"""Retraining a completed PVC on new tiny base models end to end: promotion with new voices and a
notification, a failing PVC that does not stop the others, no second training for a decided
(PVC, base), and a worse new model that is kept out with the reason."""

import pytest
from typer.testing import CliRunner

from interfaces.cli import app
from provoice.accounts import default_account
from provoice.catalog import Catalog
from provoice.credits import PVC_TRAINING_CREDITS, balance, grant, history
from provoice.events import PVC_RETRAINED
from provoice.pvc.retrain import decisions, retrain_run_id
from provoice.pvc.service import create_pvc, get_pvc, voices_of
from provoice.pvc.status import PvcStatus
from provoice.views import Evaluation
from provoice.voice_models import BaseModelRegistry
from tests.conftest import QUICK_SCORING, narrator_dataset
from tests.http_receiver import receiver
from tests.pvc_states import set_status

pytestmark = pytest.mark.integration
runner = CliRunner()


def _artifact(key: str) -> str:
    """The newest markdown of an artifact key, straight from the API."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = client.request(
            "POST",
            "/artifacts/filter",
            json={"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1, "offset": 0},
        ).json()
    return found[0]["data"]


def _scoring(monkeypatch, eval_sentences: str) -> None:
    """Scoring as cheap as each step's assertions allow: nothing here reads a validation, and only the
    promotion's paired evaluation is checked for its sentence count (QUICK_SCORING's 4)."""
    monkeypatch.setenv("PROVOICE_TRAIN_VALIDATION_SENTENCES", "1")
    monkeypatch.setenv("PROVOICE_EVAL_SENTENCES", eval_sentences)


def _spy(calls: list, evaluate):
    def spied(settings, model_id, manifest_uri, **kw):
        calls.append((model_id, manifest_uri))
        return evaluate(settings, model_id, manifest_uri, **kw)

    return spied


def test_retrain_promotes_keeps_records_failures_and_never_repeats(prefect_harness, settings, tmp_path, monkeypatch):
    import flows.retrain
    from flows.pvc import pro_voice_clone
    from flows.retrain import retrain_on_new_base_model

    catalog = Catalog(settings)
    account = default_account(catalog).id
    ds = narrator_dataset(catalog, tmp_path / "up", 5)
    registry = BaseModelRegistry(settings)
    registry.create_random("tiny-base", tiny=True)
    grant(catalog, account, PVC_TRAINING_CREDITS + 1000)
    pvc = create_pvc(catalog, account, ds.id, "Narrator", "tiny-base", auto_retrain=True, settings=settings)
    _scoring(monkeypatch, "1")
    pro_voice_clone(pvc_id=pvc.id, max_steps=2)
    old = get_pvc(catalog, pvc.id)
    old_voices = voices_of(catalog, pvc.id, old.model_id)
    assert old.status == "completed" and len(old_voices) == 4
    broken = create_pvc(catalog, account, ds.id, "Broken", "tiny-base", auto_retrain=True, settings=settings)
    set_status(catalog, broken.id, PvcStatus.COMPLETED, model_id="tiny-base/gone", dataset_version="gone")
    create_pvc(catalog, account, ds.id, "Manual", "tiny-base", settings=settings)
    assert retrain_on_new_base_model(max_steps=2) == {
        "base_model_id": "tiny-base",
        "counts": {"promoted": 0, "kept": 0, "failed": 0},
        "results": [],
        "skipped": [],
    }

    # A new base model; generous tolerances make the promotion certain whatever two training steps give.
    registry.create_random("tiny-base-2", tiny=True, seed=1)
    monkeypatch.setenv("PROVOICE_RETRAIN_WER_TOLERANCE", "10")
    monkeypatch.setenv("PROVOICE_RETRAIN_SIMILARITY_TOLERANCE", "2")
    _scoring(monkeypatch, QUICK_SCORING["PROVOICE_EVAL_SENTENCES"])
    evaluated: list[tuple[str, str]] = []
    monkeypatch.setattr(flows.retrain, "evaluate_task", _spy(evaluated, flows.retrain.evaluate_task))
    charged_before = balance(catalog, account)
    with receiver() as hook:
        monkeypatch.setenv("PROVOICE_NOTIFY_WEBHOOK_URL", hook.url)
        monkeypatch.setenv("PROVOICE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
        out = retrain_on_new_base_model(max_steps=2)
        bodies = hook.bodies
    new_model = f"tiny-base-2/{retrain_run_id(pvc.id, 'tiny-base-2')}"
    assert out["base_model_id"] == "tiny-base-2" and out["counts"] == {"promoted": 1, "kept": 0, "failed": 1}
    promoted, failed = out["results"]
    assert (promoted["pvc_id"], promoted["decision"], promoted["old_model_id"], promoted["new_model_id"]) == (
        pvc.id,
        "promoted",
        old.model_id,
        new_model,
    )
    assert promoted["reason"].startswith(
        "promoted the new model, not worse (paired on the same 4 sentences): word error rate "
    )
    assert set(promoted["old_evaluation"]) == set(promoted["new_evaluation"]) == {"wer", "speaker_similarity", "dnsmos"}
    assert [m for m, _ in evaluated] == [old.model_id, new_model] and evaluated[0][1] == evaluated[1][1]
    assert (failed["pvc_id"], failed["decision"], failed["new_model_id"]) == (broken.id, "failed", None)
    assert failed["reason"] == f"dataset {ds.id} has no completed preparation of version gone"

    now = get_pvc(catalog, pvc.id)
    assert (now.model_id, now.base_model_id, now.evaluation) == (new_model, "tiny-base-2", promoted["new_evaluation"])
    assert now.dataset_version == old.dataset_version and now.status == "completed"
    new_voices = voices_of(catalog, pvc.id, new_model)
    assert len(new_voices) == 4 and [v["id"] for v in promoted["voices"]] == [v.id for v in new_voices]
    assert [v.id for v in voices_of(catalog, pvc.id, old.model_id)] == [v.id for v in old_voices]
    assert balance(catalog, account) == charged_before
    assert [e.kind for e in history(catalog, account)].count("pvc_training") == 1
    assert [(b["event"], b["status"], b["model_id"], b["previous_model_id"]) for b in bodies] == [
        (PVC_RETRAINED, "retrained", new_model, old.model_id)
    ]
    assert bodies[0]["voice_ids"] == [v.id for v in new_voices]
    assert _artifact(f"retrain-{pvc.id}".replace("_", "-")).startswith(
        f"# Retrain of PVC 'Narrator' (`{pvc.id}`) on base model `tiny-base-2`: promoted"
    )

    r = runner.invoke(
        app,
        [
            "tts",
            "--model-id",
            old.model_id,
            "--voice-id",
            old_voices[0].id,
            "--text",
            "Hi.",
            "-o",
            str(tmp_path / "old.wav"),
        ],
    )
    assert r.exit_code == 0, r.stderr

    # The next daily run finds nothing to do; asking for the failed PVC by id retries it.
    evaluated.clear()
    again = retrain_on_new_base_model(max_steps=2)
    assert again["results"] == [] and evaluated == []
    narrowed = retrain_on_new_base_model(pvc_id=pvc.id, max_steps=2)
    assert narrowed["results"] == [] and narrowed["skipped"] == [
        {"pvc_id": pvc.id, "reason": f"PVC {pvc.id} is already on base model tiny-base-2"}
    ]
    retried = retrain_on_new_base_model(pvc_id=broken.id, max_steps=2)
    assert [r["decision"] for r in retried["results"]] == ["failed"]
    assert [d.decision for d in decisions(catalog, broken.id)] == ["failed"]

    # A worse new model is kept out with the reason; the PVC stays as it was.
    registry.create_random("tiny-base-3", tiny=True, seed=2)
    monkeypatch.delenv("PROVOICE_RETRAIN_WER_TOLERANCE")
    monkeypatch.delenv("PROVOICE_RETRAIN_SIMILARITY_TOLERANCE")
    _scoring(monkeypatch, "1")  # the decision reads the stubbed scores below; the fine-tune's own evaluation runs
    better = {"wer": 0.2, "speaker_similarity": 0.8, "dnsmos": 3.0}
    worse = {"wer": 0.6, "speaker_similarity": 0.5, "dnsmos": 2.0}
    evaluated.clear()
    monkeypatch.setattr(
        flows.retrain,
        "evaluate_task",
        _spy(evaluated, lambda s, model_id, uri, **kw: Evaluation(**(better if model_id == new_model else worse))),
    )
    kept = retrain_on_new_base_model(base_model_id="tiny-base-3", pvc_id=pvc.id, max_steps=2)
    (row,) = kept["results"]
    assert row["decision"] == "kept" and row["voices"] == [] and row["old_model_id"] == new_model
    assert row["reason"] == (
        "kept the old model: word error rate rose from 20.0% to 60.0%, above the allowed 23.0% "
        "(tolerance 3.0%); speaker similarity fell from 0.800 to 0.500, below the allowed 0.790 "
        "(tolerance 0.010)"
    )
    assert [m for m, _ in evaluated] == [new_model, f"tiny-base-3/{retrain_run_id(pvc.id, 'tiny-base-3')}"]
    assert get_pvc(catalog, pvc.id).model_id == new_model
    assert voices_of(catalog, pvc.id, row["new_model_id"]) == []
    assert [(d.base_model_id, d.decision) for d in decisions(catalog, pvc.id)] == [
        ("tiny-base-2", "promoted"),
        ("tiny-base-3", "kept"),
    ]
    assert "The PVC keeps" in _artifact(f"retrain-{pvc.id}".replace("_", "-"))
    again = retrain_on_new_base_model(base_model_id="tiny-base-3", pvc_id=pvc.id, max_steps=2)
    assert again["results"] == [] and again["skipped"][0]["reason"].startswith(
        f"PVC {pvc.id} was already retrained on base model tiny-base-3: kept at "
    )
