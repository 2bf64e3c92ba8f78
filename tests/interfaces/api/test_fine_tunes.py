import threading

import pytest

import flows.pvc  # imported before caplog attaches: importing Prefect reconfigures the root logger
from interfaces.api.runner import PVC_DEPLOYMENT, Runner
from provoice.credits import PVC_TRAINING_CREDITS, account_balance, grant
from provoice.pvc.budget import Budget
from provoice.pvc.service import PvcRefused
from provoice.pvc.status import PvcStatus
from provoice.pvc.transitions import claim
from provoice.settings import Settings
from tests.interfaces.api.conftest import new_fine_tune
from tests.pvc_states import set_status


def start_training(catalog, pvc_id):
    return claim(catalog, Settings(), pvc_id, retry=False, budget=Budget(), to="training")


def test_create_is_a_draft_on_the_latest_base_model(client, alice, base):
    pvc = new_fine_tune(client, alice, webhook_url="https://hooks.example.com/provoice")
    assert (pvc["status"], pvc["base_model_id"], pvc["attempts"], pvc["voices"]) == ("draft", base, 0, [])
    assert client.get(f"/fine-tunes/{pvc['id']}", headers=alice.headers).json() == pvc
    r = client.post(
        "/fine-tunes",
        json={"dataset_id": pvc["dataset_id"], "name": "x", "base_model_id": "nope"},
        headers=alice.headers,
    )
    assert r.status_code == 404 and "no base model 'nope'" in r.json()["detail"]
    r = client.post(
        "/fine-tunes",
        json={"dataset_id": pvc["dataset_id"], "name": "x", "webhook_url": "not a url"},
        headers=alice.headers,
    )
    assert r.status_code == 422


def test_accounts_see_only_their_own_fine_tunes(client, alice, bob, base, launches):
    mine = new_fine_tune(client, alice)
    assert client.get("/fine-tunes", headers=bob.headers).json() == []
    assert [p["id"] for p in client.get("/fine-tunes", headers=alice.headers).json()] == [mine["id"]]
    for method, path in (("get", ""), ("post", "/train"), ("post", "/retry")):
        r = client.request(method, f"/fine-tunes/{mine['id']}{path}", headers=bob.headers)
        assert r.status_code == 404, path
    r = client.post("/fine-tunes", json={"dataset_id": mine["dataset_id"], "name": "stolen"}, headers=bob.headers)
    assert r.status_code == 404 and launches == []


@pytest.mark.both_databases
def test_train_needs_credits_and_a_startable_status(client, app, alice, base, launches):
    pvc = new_fine_tune(client, alice)
    r = client.post(f"/fine-tunes/{pvc['id']}/train", headers=alice.headers)
    assert r.status_code == 402
    assert r.json()["detail"].startswith(f"training PVC {pvc['id']} needs 1,000,000 credits, available 0")
    assert client.get(f"/fine-tunes/{pvc['id']}", headers=alice.headers).json()["status"] == "draft"
    r = client.post(f"/fine-tunes/{pvc['id']}/retry", headers=alice.headers)
    assert r.status_code == 409 and "has not been trained yet" in r.json()["detail"]
    assert (
        client.post(f"/fine-tunes/{pvc['id']}/train", json={"max_steps": 0}, headers=alice.headers).status_code == 422
    )
    assert launches == []

    grant(app.state.catalog, alice.account_id, PVC_TRAINING_CREDITS)
    r = client.post(f"/fine-tunes/{pvc['id']}/train", json={"max_steps": 5}, headers=alice.headers)
    assert r.status_code == 202
    queued = r.json()
    assert (queued["id"], queued["status"], queued["flow_run_id"], queued["budget"]) == (
        pvc["id"],
        "queued",
        "run-1",
        {"max_steps": 5, "max_minutes": None},
    )
    assert launches == [{"deployment": PVC_DEPLOYMENT, "pvc_id": pvc["id"], "retry": False}]
    held = account_balance(app.state.catalog, alice.account_id)
    assert (held.total, held.held, held.available) == (PVC_TRAINING_CREDITS, PVC_TRAINING_CREDITS, 0)

    r = client.post(f"/fine-tunes/{pvc['id']}/train", headers=alice.headers)
    assert r.status_code == 409 and "is already queued (attempt 1" in r.json()["detail"]
    set_status(app.state.catalog, pvc["id"], PvcStatus.COMPLETED, model_id=f"{base}/{pvc['id']}")
    r = client.post(f"/fine-tunes/{pvc['id']}/retry", headers=alice.headers)
    assert r.status_code == 409 and f"completed with model {base}/{pvc['id']}" in r.json()["detail"]
    assert len(launches) == 1


def test_retry_starts_a_failed_fine_tune(client, app, alice, base, launches):
    pvc = new_fine_tune(client, alice)
    grant(app.state.catalog, alice.account_id, 2 * PVC_TRAINING_CREDITS)
    start_training(app.state.catalog, pvc["id"])
    set_status(app.state.catalog, pvc["id"], PvcStatus.FAILED, reason="disk full")
    r = client.post(f"/fine-tunes/{pvc['id']}/retry", json={"max_minutes": 1.5}, headers=alice.headers)
    assert r.status_code == 202 and (r.json()["status"], r.json()["attempts"]) == ("queued", 2)
    assert r.json()["budget"] == {"max_steps": None, "max_minutes": 1.5}
    assert launches == [{"deployment": PVC_DEPLOYMENT, "pvc_id": pvc["id"], "retry": True}]


@pytest.mark.both_databases
def test_a_deployment_that_cannot_start_fails_the_attempt_and_releases_the_hold(client, app, alice, base):
    def down(name, parameters):
        raise ConnectionError("Prefect API unreachable")

    app.state.runner = Runner(down)
    pvc = new_fine_tune(client, alice)
    grant(app.state.catalog, alice.account_id, PVC_TRAINING_CREDITS)
    r = client.post(f"/fine-tunes/{pvc['id']}/train", headers=alice.headers)
    assert r.status_code == 503 and "could not queue the training on Prefect" in r.json()["detail"]
    shown = client.get(f"/fine-tunes/{pvc['id']}", headers=alice.headers).json()
    assert (shown["status"], shown["failure_kind"]) == ("failed", "infrastructure")
    assert account_balance(app.state.catalog, alice.account_id).available == PVC_TRAINING_CREDITS


def test_embedded_mode_runs_the_parent_flow_on_its_own_thread(
    prefect_harness, client, app, alice, base, monkeypatch, caplog
):
    seen = []

    def flow(pvc_id, max_steps=None, max_minutes=None, retry=False):
        seen.append((pvc_id, threading.current_thread().name))
        raise PvcRefused(f"PVC {pvc_id} is already training")

    monkeypatch.setattr(flows.pvc, "pro_voice_clone", flow)
    app.state.runner = Runner(None)
    pvc = new_fine_tune(client, alice)
    grant(app.state.catalog, alice.account_id, PVC_TRAINING_CREDITS)
    r = client.post(f"/fine-tunes/{pvc['id']}/train", headers=alice.headers)
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["flow_run_id"] is None
    for t in threading.enumerate():
        if t.name == f"pvc-{pvc['id']}":
            t.join(10)
    assert seen == [(pvc["id"], f"pvc-{pvc['id']}")]
    assert f"PVC {pvc['id']} did not complete: PVC {pvc['id']} is already training" in caplog.text
