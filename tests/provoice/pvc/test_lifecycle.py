"""PVC attempts: the claim and its credit hold land together, a failure gives the hold back, the
budget is fixed at the first start, and a PVC whose worker vanished is failed by the reaper."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from provoice.accounts import default_account
from provoice.catalog import Pvc
from provoice.catalog.models import utcnow
from provoice.credits import PVC_TRAINING_CREDITS, account_balance, charge_hold, grant, holds
from provoice.errors import InsufficientCredits, InvalidSource
from provoice.pvc.budget import Budget, checked_budget
from provoice.pvc.lifecycle import RUN_ENDED, WORKER_LOST, Heartbeat, heartbeat, reap
from provoice.pvc.service import PvcRefused, create_pvc, get_pvc
from provoice.pvc.transitions import IllegalTransition, begin_training, claim, complete, fail_attempt, hold_key
from provoice.settings import Settings
from provoice.voice_models.recipe import RECIPE

pytestmark = pytest.mark.both_databases


def _pvcs(catalog, n, credits=PVC_TRAINING_CREDITS):
    account = default_account(catalog).id
    grant(catalog, account, credits)
    ds = catalog.create_dataset("d")
    return account, [create_pvc(catalog, account, ds.id, f"Voice {i}", "base", settings=Settings()) for i in range(n)]


def test_two_pvcs_on_exactly_one_training_worth_of_credits_one_runs(catalog, settings):
    account, pvcs = _pvcs(catalog, 2)
    barrier, outcomes = threading.Barrier(2), {}

    def start(pvc):
        barrier.wait()
        try:
            claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=10))
            outcomes[pvc.id] = "queued"
        except InsufficientCredits as exc:
            outcomes[pvc.id] = str(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in pvcs]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes.values(), key=len)[0] == "queued"
    (refused,) = [v for v in outcomes.values() if v != "queued"]
    assert "needs 1,000,000 credits, available 0" in refused and "1,000,000 of 1,000,000 held" in refused
    statuses = sorted(get_pvc(catalog, p.id).status for p in pvcs)
    assert statuses == ["draft", "queued"]  # the refused one is untouched and may start later
    bal = account_balance(catalog, account)
    assert (bal.total, bal.held, bal.available) == (Decimal(PVC_TRAINING_CREDITS), Decimal(PVC_TRAINING_CREDITS), 0)


def test_a_failed_attempt_releases_its_hold_and_a_success_charges_it_once(catalog, settings):
    account, (pvc,) = _pvcs(catalog, 1)
    claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=10), to="training")
    assert fail_attempt(catalog, pvc.id, "disk full", "infrastructure").failure_kind == "infrastructure"
    assert fail_attempt(catalog, pvc.id, "again") is None  # not running any more: nothing changes
    assert [h.status for h in holds(catalog, account)] == ["released"]
    assert account_balance(catalog, account).available == PVC_TRAINING_CREDITS
    again = claim(catalog, settings, pvc.id, retry=True, budget=Budget(), to="training")
    assert again.attempts == 2
    first = charge_hold(catalog, hold_key(pvc.id, 2), "pvc-training:x")
    assert charge_hold(catalog, hold_key(pvc.id, 2), "pvc-training:x").id == first.id
    bal = account_balance(catalog, account)
    assert (bal.total, bal.held, bal.available) == (0, 0, 0)


def test_a_run_that_outlived_its_reaped_attempt_leaves_the_retry_alone(catalog, settings):
    account, (pvc,) = _pvcs(catalog, 1, 2 * PVC_TRAINING_CREDITS)
    claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=10), to="training", flow_run_id="run-1")
    fail_attempt(catalog, pvc.id, WORKER_LOST, "worker-lost")  # the reaper
    claim(catalog, settings, pvc.id, retry=True, budget=Budget(), to="training", flow_run_id="run-2")
    assert fail_attempt(catalog, pvc.id, "late failure of run 1", flow_run_id="run-1") is None
    assert get_pvc(catalog, pvc.id).status == "training"
    assert fail_attempt(catalog, pvc.id, "run 2 failed", flow_run_id="run-2").reason == "run 2 failed"
    assert [h.status for h in holds(catalog, account)] == ["released", "released"]


def test_the_budget_is_fixed_at_the_first_start_and_reused_by_a_retry(catalog, settings):
    _, (pvc,) = _pvcs(catalog, 1)
    started = claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=40, max_minutes=5))
    assert (started.budget_steps, started.budget_minutes) == (40, 5)
    fail_attempt(catalog, pvc.id, "worker lost")
    retried = claim(catalog, settings, pvc.id, retry=True, budget=Budget())
    assert (retried.budget_steps, retried.budget_minutes) == (40, 5)
    fail_attempt(catalog, pvc.id, "worker lost")
    changed = claim(catalog, settings, pvc.id, retry=True, budget=Budget(max_steps=80))
    assert (changed.budget_steps, changed.budget_minutes) == (80, None)


def test_a_start_without_a_budget_uses_the_default_minutes(catalog, settings):
    _, (pvc,) = _pvcs(catalog, 1)
    started = claim(catalog, settings, pvc.id, retry=False, budget=Budget())
    assert (started.budget_steps, started.budget_minutes) == (None, RECIPE.cpu_minutes)


def test_a_draft_s_own_budget_is_its_first_start_s_when_the_start_names_none(catalog, settings):
    account = default_account(catalog).id
    grant(catalog, account, 2 * PVC_TRAINING_CREDITS)
    ds = catalog.create_dataset("d")
    own = create_pvc(catalog, account, ds.id, "Narrator", "tiny-base", max_steps=2, max_minutes=3, settings=settings)
    started = claim(catalog, settings, own.id, retry=False, budget=Budget())
    assert (started.budget_steps, started.budget_minutes) == (2, 3)
    other = create_pvc(catalog, account, ds.id, "Other", "tiny-base", max_steps=2, settings=settings)
    started = claim(catalog, settings, other.id, retry=False, budget=Budget(max_minutes=7))
    assert (started.budget_steps, started.budget_minutes) == (None, 7)


@pytest.mark.parametrize(
    "budget, message",
    [
        (Budget(max_minutes=float("nan")), "max_minutes must be more than 0"),
        (Budget(max_minutes=float("inf")), "max_minutes must be more than 0"),
        (Budget(max_minutes=0), "max_minutes must be more than 0"),
        (Budget(max_minutes=1e9), "at most 360"),
        (Budget(max_steps=0), "max_steps must be a whole number"),
        (Budget(max_steps=10**30), "max_steps must be a whole number from 1 to 1,000,000"),
        (Budget(max_steps=2.5), "max_steps must be a whole number"),
    ],
)
def test_budgets_outside_the_limits_are_refused_before_anything_is_held(catalog, settings, budget, message):
    account, (pvc,) = _pvcs(catalog, 1)
    with pytest.raises(InvalidSource, match=message):
        checked_budget(settings, budget)
    with pytest.raises(InvalidSource, match=message):
        claim(catalog, settings, pvc.id, retry=False, budget=budget)
    assert get_pvc(catalog, pvc.id).status == "draft" and holds(catalog, account) == []


def test_a_lapsed_lease_is_reaped_with_a_reason_and_the_hold_released(catalog, settings, monkeypatch):
    account, (live, lost) = _pvcs(catalog, 2, 2 * PVC_TRAINING_CREDITS)
    for p in (live, lost):
        claim(catalog, settings, p.id, retry=False, budget=Budget(max_steps=5), to="training")
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == lost.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    (reaped,) = reap(catalog)
    assert (reaped.id, reaped.status, reaped.failure_kind, reaped.reason) == (
        lost.id,
        "failed",
        "worker-lost",
        WORKER_LOST,
    )
    assert get_pvc(catalog, live.id).status == "training"
    assert account_balance(catalog, account).held == PVC_TRAINING_CREDITS
    assert heartbeat(catalog, settings, live.id) and not heartbeat(catalog, settings, lost.id)


def test_a_pvc_whose_flow_run_ended_is_reaped_even_with_a_lease(catalog, settings):
    _, (queued, other) = _pvcs(catalog, 2, 2 * PVC_TRAINING_CREDITS)
    claim(catalog, settings, queued.id, retry=False, budget=Budget(max_steps=5), flow_run_id="run-1")
    claim(catalog, settings, other.id, retry=False, budget=Budget(max_steps=5), flow_run_id="run-2")
    asked = []

    def ended_runs(ids):
        asked.append(sorted(ids))
        return {"run-1": "Crashed"}

    (reaped,) = reap(catalog, ended_runs=ended_runs)
    assert asked == [["run-1", "run-2"]]
    assert reaped.id == queued.id and reaped.reason == RUN_ENDED.format(state="Crashed")
    assert get_pvc(catalog, other.id).status == "queued"


def test_a_worker_takes_only_its_own_queued_run(catalog, settings):
    _, (pvc,) = _pvcs(catalog, 1)
    claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=5), flow_run_id="run-1")
    with pytest.raises(PvcRefused, match="queued for flow run run-1, not run-2"):
        begin_training(catalog, settings, pvc.id, retry=False, budget=Budget(), flow_run_id="run-2")
    taken = begin_training(catalog, settings, pvc.id, retry=False, budget=Budget(), flow_run_id="run-1")
    assert taken.status == "training" and taken.lease_expires_at is not None


def test_the_heartbeat_keeps_a_long_step_alive(catalog, monkeypatch):
    monkeypatch.setenv("PROVOICE_PVC_LEASE_SECONDS", "0.6")
    settings = Settings()
    _, (pvc,) = _pvcs(catalog, 1)
    claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=5), to="training")
    with Heartbeat(catalog, settings, pvc.id):
        threading.Event().wait(1.5)  # longer than the lease: only renewals keep it
        assert reap(catalog) == []
    threading.Event().wait(0.8)
    assert [p.id for p in reap(catalog)] == [pvc.id]


def test_unsupported_languages_are_refused_when_the_pvc_is_created(catalog):
    account = default_account(catalog).id
    ds = catalog.create_dataset("d")
    with pytest.raises(InvalidSource, match="language 'xx' is not supported.*speak en"):
        create_pvc(catalog, account, ds.id, "Voice", "base", language="xx", settings=Settings())


def test_the_owner_of_a_reaped_pvc_is_told_once_whoever_reaps_it_first(catalog, settings):
    _, (lost,) = _pvcs(catalog, 1)
    claim(catalog, settings, lost.id, retry=False, budget=Budget(max_steps=5), to="training")
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == lost.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    seen_by_a_get = get_pvc(catalog, lost.id)  # read while it still looked training
    told = []

    def notify(notification, webhook_urls):
        told.append((notification.status, notification.pvc_id, notification.reason, list(webhook_urls)))

    assert [p.id for p in reap(catalog, [get_pvc(catalog, lost.id)], notify=notify)] == [lost.id]  # a GET
    assert reap(catalog, notify=notify) == []  # the reap-pvcs flow, a minute later
    assert reap(catalog, [seen_by_a_get], notify=notify) == []  # a GET that read it before it was failed
    assert told == [("failed", lost.id, WORKER_LOST, [])]


def test_illegal_transitions_are_refused_and_change_nothing(catalog, settings):
    _, (pvc,) = _pvcs(catalog, 1)
    with pytest.raises(IllegalTransition, match=f"PVC {pvc.id} cannot go from draft to completed"):
        complete(catalog, pvc.id, model_id="base/x")
    with pytest.raises(IllegalTransition, match="starts queued or training, not completed"):
        claim(catalog, settings, pvc.id, retry=False, budget=Budget(), to="completed")
    assert fail_attempt(catalog, pvc.id, "never started") is None
    assert get_pvc(catalog, pvc.id).status == "draft"
