"""Auto-retrain through the API: chosen at creation, toggled with PATCH, decisions listed."""

from provoice.catalog.models import utcnow
from provoice.pvc.retrain import record
from provoice.pvc.service import get_pvc
from provoice.pvc.status import PvcStatus
from tests.interfaces.api.conftest import new_fine_tune
from tests.pvc_states import set_status


def test_auto_retrain_is_off_unless_asked_and_patch_toggles_it(client, alice, bob, base):
    plain = new_fine_tune(client, alice)
    assert plain["auto_retrain"] is False and plain["latest_retrain"] is None
    pvc = new_fine_tune(client, alice, auto_retrain=True)
    assert pvc["auto_retrain"] is True

    r = client.patch(f"/fine-tunes/{pvc['id']}", json={"auto_retrain": False}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["auto_retrain"] is False
    assert client.get(f"/fine-tunes/{pvc['id']}", headers=alice.headers).json()["auto_retrain"] is False
    r = client.patch(f"/fine-tunes/{plain['id']}", json={"auto_retrain": True}, headers=alice.headers)
    assert r.json()["auto_retrain"] is True

    assert client.patch(f"/fine-tunes/{pvc['id']}", json={}, headers=alice.headers).status_code == 422
    assert (
        client.patch(f"/fine-tunes/{pvc['id']}", json={"auto_retrain": "maybe"}, headers=alice.headers).status_code
        == 422
    )
    r = client.patch(f"/fine-tunes/{pvc['id']}", json={"auto_retrain": True}, headers=bob.headers)
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    assert client.get(f"/fine-tunes/{pvc['id']}", headers=alice.headers).json()["auto_retrain"] is False


def test_retrain_decisions_are_listed_for_the_owner_only(client, app, alice, bob, base):
    pvc = new_fine_tune(client, alice, auto_retrain=True)
    assert client.get(f"/fine-tunes/{pvc['id']}/retrains", headers=alice.headers).json() == []
    catalog = app.state.catalog
    done = set_status(catalog, pvc["id"], PvcStatus.COMPLETED, model_id=f"{base}/{pvc['id']}", dataset_version="v1")
    record(
        catalog,
        done,
        "tiny-base-2",
        "kept",
        "kept the old model: word error rate rose",
        started_at=utcnow(),
        new_model_id=f"tiny-base-2/{pvc['id']}-retrain-x",
        old_evaluation={"wer": 0.1},
        new_evaluation={"wer": 0.4},
    )
    rows = client.get(f"/fine-tunes/{pvc['id']}/retrains", headers=alice.headers).json()
    assert [(r["base_model_id"], r["decision"], r["old_model_id"]) for r in rows] == [
        ("tiny-base-2", "kept", f"{base}/{pvc['id']}")
    ]
    shown = client.get(f"/fine-tunes/{pvc['id']}", headers=alice.headers).json()
    assert shown["latest_retrain"] == rows[0] and shown["model_id"] == get_pvc(catalog, pvc["id"]).model_id
    assert client.get(f"/fine-tunes/{pvc['id']}/retrains", headers=bob.headers).status_code == 404
