import threading

import pytest

import flows.pvc  # imported before caplog attaches: importing Prefect reconfigures the root logger
from interfaces.api.runner import launch_in_thread
from provoice.credits import PVC_TRAINING_CREDITS, grant
from provoice.pvc.service import PvcRefused, claim, finish
from tests.interfaces.api.conftest import new_fine_tune


@pytest.fixture
def launches(app) -> list[dict]:
    """Records training starts instead of running the parent flow."""
    calls: list[dict] = []
    app.state.launch_training = lambda pvc_id, **kw: calls.append({"pvc_id": pvc_id, **kw})
    return calls


def test_create_is_a_draft_on_the_latest_base_model(client, alice, base):
    pvc = new_fine_tune(client, alice, webhook_url="http://127.0.0.1:9/hook")
    assert (pvc["status"], pvc["base_model_id"], pvc["attempts"], pvc["voices"]) == ("draft", base, 0, [])
    assert client.get(f"/fine-tunes/{pvc['id']}", headers=alice.headers).json() == pvc
    r = client.post("/fine-tunes", json={"dataset_id": pvc["dataset_id"], "name": "x", "base_model_id": "nope"},
                    headers=alice.headers)
    assert r.status_code == 404 and "no base model 'nope'" in r.json()["detail"]
    r = client.post("/fine-tunes", json={"dataset_id": pvc["dataset_id"], "name": "x", "webhook_url": "not a url"},
                    headers=alice.headers)
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


def test_train_needs_credits_and_a_startable_status(client, app, alice, base, launches):
    pvc = new_fine_tune(client, alice)
    r = client.post(f"/fine-tunes/{pvc['id']}/train", headers=alice.headers)
    assert r.status_code == 402
    assert r.json()["detail"].startswith(f"training PVC {pvc['id']} needs 1,000,000 credits, balance is 0")
    r = client.post(f"/fine-tunes/{pvc['id']}/retry", headers=alice.headers)
    assert r.status_code == 409 and "has not been trained yet" in r.json()["detail"]
    assert client.post(f"/fine-tunes/{pvc['id']}/train", json={"max_steps": 0}, headers=alice.headers).status_code == 422
    assert launches == []

    grant(app.state.catalog, alice.account_id, PVC_TRAINING_CREDITS)
    r = client.post(f"/fine-tunes/{pvc['id']}/train", json={"max_steps": 5}, headers=alice.headers)
    assert r.status_code == 202 and r.json()["id"] == pvc["id"]
    assert launches == [{"pvc_id": pvc["id"], "retry": False, "max_steps": 5, "max_minutes": None}]

    claim(app.state.catalog, pvc["id"])
    r = client.post(f"/fine-tunes/{pvc['id']}/train", headers=alice.headers)
    assert r.status_code == 409 and "is already training (attempt 1" in r.json()["detail"]
    finish(app.state.catalog, pvc["id"], "completed", model_id=f"{base}/{pvc['id']}")
    r = client.post(f"/fine-tunes/{pvc['id']}/retry", headers=alice.headers)
    assert r.status_code == 409 and f"completed with model {base}/{pvc['id']}" in r.json()["detail"]
    assert len(launches) == 1


def test_retry_starts_a_failed_fine_tune(client, app, alice, base, launches):
    pvc = new_fine_tune(client, alice)
    claim(app.state.catalog, pvc["id"])
    finish(app.state.catalog, pvc["id"], "failed", reason="disk full")
    grant(app.state.catalog, alice.account_id, PVC_TRAINING_CREDITS)
    r = client.post(f"/fine-tunes/{pvc['id']}/retry", json={"max_minutes": 1.5}, headers=alice.headers)
    assert r.status_code == 202 and r.json()["reason"] == "disk full"
    assert launches == [{"pvc_id": pvc["id"], "retry": True, "max_steps": None, "max_minutes": 1.5}]


def test_the_launcher_runs_the_parent_flow_on_its_own_thread(monkeypatch, caplog):
    seen = []

    def flow(pvc_id, max_steps=None, max_minutes=None, retry=False):
        seen.append((pvc_id, max_steps, max_minutes, retry, threading.current_thread().name))
        raise PvcRefused(f"PVC {pvc_id} is already training")

    monkeypatch.setattr(flows.pvc, "pro_voice_clone", flow)
    launch_in_thread("pvc_x", retry=True, max_steps=3, max_minutes=None)
    for t in threading.enumerate():
        if t.name == "pvc-pvc_x":
            t.join(10)
    assert seen == [("pvc_x", 3, None, True, "pvc-pvc_x")]
    assert "PVC pvc_x did not complete: PVC pvc_x is already training" in caplog.text
