"""A PVC whose worker is gone is failed by whoever looks at it first, and its owner is told once:
a GET that reaps it notifies (on a thread, so the GET does not wait), and the `reap-pvcs` flow that
comes after finds nothing left to fail or announce."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from flows.reap import reap_pvcs
from interfaces.api.app import create_app
from provoice.accounts import create_account, create_api_key
from provoice.catalog import Pvc
from provoice.catalog.models import utcnow
from provoice.credits import PVC_TRAINING_CREDITS, grant
from provoice.pvc.budget import Budget
from provoice.pvc.lifecycle import WORKER_LOST
from provoice.pvc.service import create_pvc
from provoice.pvc.status import PvcStatus
from provoice.pvc.transitions import claim
from provoice.settings import Settings
from tests.http_receiver import receiver


def _wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_pvc_reaped_by_a_get_notifies_its_owner_once(prefect_harness, settings, monkeypatch):
    with receiver() as hook:
        monkeypatch.setenv("PROVOICE_NOTIFY_WEBHOOK_URL", hook.url)
        monkeypatch.setenv("PROVOICE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
        monkeypatch.setenv("PROVOICE_NOTIFY_ATTEMPTS", "1")
        settings = Settings()
        app = create_app(settings)
        catalog = app.state.catalog
        account = create_account(catalog, "alice")
        _, key = create_api_key(catalog, account.id)
        grant(catalog, account.id, PVC_TRAINING_CREDITS)
        ds = catalog.create_dataset("d", account_id=account.id)
        pvc = create_pvc(catalog, account.id, ds.id, "Narrator", "base", settings=settings)
        claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=5), to=PvcStatus.TRAINING)
        with catalog.session() as s:  # the worker died: nothing renews the lease
            s.execute(update(Pvc).where(Pvc.id == pvc.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))

        with TestClient(app) as client:
            shown = client.get(f"/fine-tunes/{pvc.id}", headers={"X-API-Key": key}).json()
        assert (shown["status"], shown["failure_kind"], shown["reason"]) == ("failed", "worker-lost", WORKER_LOST)
        _wait_for(lambda: hook.bodies)
        assert reap_pvcs() == []  # the flow comes by after the GET
        time.sleep(1.0)
        bodies = hook.bodies
    assert [(b["event"], b["pvc_id"], b["status"], b["reason"]) for b in bodies] == [
        ("provoice.pvc.failed", pvc.id, "failed", WORKER_LOST)
    ]
