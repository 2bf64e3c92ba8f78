"""The parent flow end to end with a tiny base model: lifecycle, four voices, credits, pinning,
notifications to a real local receiver, the failure path and the retry rules."""

import json

import pytest
from typer.testing import CliRunner

from interfaces.cli import app
from provoice.accounts import default_account
from provoice.catalog import Catalog
from provoice.credits import PVC_TRAINING_CREDITS, balance, charge_hold, grant, history
from provoice.errors import InsufficientCredits
from provoice.pvc.budget import Budget
from provoice.pvc.service import PvcRefused, create_pvc, get_pvc
from provoice.pvc.status import PvcStep
from provoice.pvc.transitions import charge_key, claim, hold_key
from provoice.voice_models.registry import BaseModelRegistry
from tests.conftest import narrator_dataset
from tests.http_receiver import receiver

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_pvc_completes_with_four_voices_and_charges_once(prefect_harness, settings, tmp_path, monkeypatch):
    from flows.pvc import pro_voice_clone

    catalog = Catalog(settings)
    account = default_account(catalog).id
    ds = narrator_dataset(catalog, tmp_path / "up", 5)
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
    pvc = create_pvc(catalog, account, ds.id, "Narrator", "tiny-base", settings=settings)
    with pytest.raises(InsufficientCredits):
        pro_voice_clone(pvc_id=pvc.id, max_steps=2)
    assert get_pvc(catalog, pvc.id).status == "draft"

    grant(catalog, account, 2 * PVC_TRAINING_CREDITS)
    import flows.pvc

    real_set_step, steps = flows.pvc.set_step, []

    def set_step(catalog, pvc_id, step, **fields):
        steps.append(step)
        real_set_step(catalog, pvc_id, step, **fields)

    monkeypatch.setattr(flows.pvc, "set_step", set_step)
    with receiver() as hook:
        monkeypatch.setenv("PROVOICE_NOTIFY_WEBHOOK_URL", hook.url)
        monkeypatch.setenv("PROVOICE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
        out = pro_voice_clone(pvc_id=pvc.id, max_steps=2).model_dump()
        bodies = hook.bodies
    done = get_pvc(catalog, pvc.id)
    assert done.status == "completed" and done.model_id == f"tiny-base/{pvc.id}" and done.attempts == 1
    assert len(out["voices"]) == 4
    assert steps == list(PvcStep)[1:]  # after the first, set when training begins: every step the timeline shows
    assert len({v["source_file_id"] for v in out["voices"]}) == 4
    assert balance(catalog, account) == PVC_TRAINING_CREDITS
    assert bodies and bodies[0]["status"] == "completed" and bodies[0]["voice_ids"] == [v["id"] for v in out["voices"]]

    charge_hold(catalog, hold_key(pvc.id, 1), charge_key(pvc.id, done.model_id))  # a repeated charge
    assert [e.kind for e in history(catalog, account)].count("pvc_training") == 1
    with pytest.raises(PvcRefused, match="is completed with model"):
        claim(catalog, settings, pvc.id, retry=True, budget=Budget())

    shown = json.loads(runner.invoke(app, ["pvc", "show", pvc.id, "--json"]).stdout)
    assert shown["status"] == "completed" and shown["charged_credits"] == PVC_TRAINING_CREDITS
    assert [v["name"] for v in shown["voices"]] == [f"Narrator {i}" for i in range(1, 5)]
    voices = json.loads(runner.invoke(app, ["voices", "list", "--json"]).stdout)
    assert {v["model_id"] for v in voices} == {done.model_id}
    voice = voices[0]["id"]
    r = runner.invoke(
        app,
        [
            "tts",
            "--model-id",
            done.model_id,
            "--voice-id",
            voice,
            "--text",
            "Hello there.",
            "-o",
            str(tmp_path / "v.wav"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    assert balance(catalog, account) == PVC_TRAINING_CREDITS - 18
    r = runner.invoke(
        app, ["tts", "--model-id", "tiny-base", "--voice-id", voice, "--text", "Hi", "-o", str(tmp_path / "w.wav")]
    )
    assert r.exit_code == 1 and f"belongs to model {done.model_id}" in r.stderr
    assert shown["voices_note"] is None


def test_too_little_speech_fails_without_charge_and_retry_rules(prefect_harness, settings, tmp_path):
    catalog = Catalog(settings)
    account = default_account(catalog).id
    grant(catalog, account, PVC_TRAINING_CREDITS)
    ds = narrator_dataset(catalog, tmp_path / "up", 1)
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
    pvc = create_pvc(catalog, account, ds.id, "Short", "tiny-base", settings=settings)
    with pytest.raises(PvcRefused, match="has not been trained yet"):
        claim(catalog, settings, pvc.id, retry=True, budget=Budget())
    r = runner.invoke(app, ["pvc", "train", pvc.id, "--max-steps", "2", "--json"])
    assert r.exit_code == 1
    failed = json.loads(r.stdout)
    assert failed["status"] == "failed" and failed["charged_credits"] == 0
    assert failed["reason"].startswith("needs ≥ 30.0 s of accepted speech, has ")
    assert "files rejected, see the dataset's report" in failed["reason"]
    assert balance(catalog, account) == PVC_TRAINING_CREDITS
    r = runner.invoke(app, ["pvc", "retry", pvc.id, "--max-steps", "2", "--json"])
    assert json.loads(r.stdout)["attempts"] == 2
    # The Prefect UI names the runs by what they are, not by random words.
    names = _flow_run_names()
    assert {
        "pvc Short · attempt 1",
        "pvc Short · attempt 2",
        f"prepare {ds.name}",
        f"prepare files of {ds.name}",
    } <= names, names


def _flow_run_names() -> set[str]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = client.request("POST", "/flow_runs/filter", json={"sort": "START_TIME_DESC", "limit": 200}).json()
    return {run["name"] for run in runs}


def test_credits_cli(settings):
    assert json.loads(runner.invoke(app, ["credits", "balance", "--json"]).stdout) == {
        "balance": 0.0,
        "held": 0.0,
        "available": 0.0,
    }
    assert json.loads(runner.invoke(app, ["credits", "grant", "2500.5", "--json"]).stdout) == {
        "balance": 2500.5,
        "held": 0.0,
        "available": 2500.5,
    }
    rows = json.loads(runner.invoke(app, ["credits", "history", "--json"]).stdout)
    assert [(r["kind"], r["credits"]) for r in rows] == [("grant", 2500.5)]
