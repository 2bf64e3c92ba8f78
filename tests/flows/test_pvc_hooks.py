"""The PVC flow's crash and cancellation hook: the attempt ends failed and resumable, its owner told once."""

import uuid
from types import SimpleNamespace

import pytest
from prefect.states import Cancelled, Crashed
from sqlalchemy import update

import flows.pvc
from provoice.accounts import default_account
from provoice.catalog import Catalog, Pvc
from provoice.credits import PVC_TRAINING_CREDITS, account_balance, grant, holds
from provoice.pvc.budget import Budget
from provoice.pvc.lifecycle import WORKER_LOST
from provoice.pvc.service import create_pvc, get_pvc
from provoice.pvc.status import PvcStatus
from provoice.pvc.transitions import claim

pytestmark = pytest.mark.both_databases


@pytest.mark.parametrize("state", [Crashed(), Cancelled()], ids=["crashed", "cancelled"])
def test_a_crashed_or_cancelled_run_fails_its_attempt_and_tells_the_owner_once(settings, monkeypatch, state):
    catalog = Catalog(settings)
    account = default_account(catalog).id
    grant(catalog, account, PVC_TRAINING_CREDITS, "test")
    ds = catalog.create_dataset("d", account_id=account)
    pvc = create_pvc(catalog, account, ds.id, "Voice", "base", settings=settings)
    claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=5), to="training")
    run_id = uuid.uuid4()
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == pvc.id).values(flow_run_id=str(run_id)))
    told = []
    monkeypatch.setattr(flows.pvc, "notifier", lambda _settings: lambda n, urls: told.append((n.status, n.reason)))

    flows.pvc._worker_lost(None, SimpleNamespace(id=run_id), state)
    flows.pvc._worker_lost(None, SimpleNamespace(id=run_id), state)  # a second hook call for the same run

    failed = get_pvc(catalog, pvc.id)
    assert failed.status == PvcStatus.FAILED and failed.failure_kind == "worker-lost"
    assert (failed.reason == WORKER_LOST) == state.is_crashed()
    assert told == [(PvcStatus.FAILED, failed.reason)]
    assert holds(catalog, account, "held") == [] and account_balance(catalog, account).available == PVC_TRAINING_CREDITS
