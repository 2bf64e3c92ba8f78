"""A PVC's attempts: claim (with its credit hold and budget), queue, lease, finish, reap.

    draft ──claim──► queued ──worker──► training ──► completed   (the hold becomes the charge)
      ▲                 │                  │
    failed ◄────────────┴──────────────────┘                    (the hold is released)

- Claiming is one transaction holding the account's write lock: the conditional status change and
  the hold of 1,000,000 credits land together or not at all, so of two PVCs started together on
  exactly 1,000,000 credits one runs and the other is refused with the figures.
- A training attempt holds a lease that the running flow renews (`heartbeat`). A PVC whose lease
  ran out, or whose flow run ended without finishing it, is failed by `reap` with a reason the
  user can act on; its checkpoints stay, so a retry resumes.
- No attempt starts without the speaker's verified consent (`provoice.consent`), retries included.
- The budget is fixed at the first start; a retry without a budget trains what is left of it (the
  trainer counts steps and seconds across resumes).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update

from provoice.catalog import Catalog, Pvc
from provoice.catalog.models import utcnow
from provoice.consent import require_consent
from provoice.credits import PVC_TRAINING_CREDITS, place_hold, release_hold
from provoice.errors import InvalidSource
from provoice.pvc.service import STEPS, PvcRefused, get_pvc
from provoice.settings import Settings
from provoice.voice_models import recipe_for

WORKER_LOST = ("the worker running this PVC stopped before it finished; re-attempt training to resume "
               "from the last checkpoint (no credits were charged)")
RUN_ENDED = ("the flow run of this PVC ended ({state}) without finishing it; re-attempt training to resume "
             "from the last checkpoint (no credits were charged)")


@dataclass(frozen=True)
class Budget:
    """A training budget: steps, minutes or both (the first reached ends training)."""

    max_steps: int | None = None
    max_minutes: float | None = None

    @property
    def empty(self) -> bool:
        return self.max_steps is None and self.max_minutes is None


def checked_budget(settings: Settings, budget: Budget) -> Budget:
    """A finite, positive budget within `max_train_minutes` / `max_train_steps`, or InvalidSource."""
    steps, minutes = budget.max_steps, budget.max_minutes
    if steps is not None and not (isinstance(steps, int) and 1 <= steps <= settings.max_train_steps):
        raise InvalidSource(f"max_steps must be a whole number from 1 to {settings.max_train_steps:,} "
                            f"(PROVOICE_MAX_TRAIN_STEPS), not {steps!r}")
    if minutes is not None and not (math.isfinite(minutes) and 0 < minutes <= settings.max_train_minutes):
        raise InvalidSource(f"max_minutes must be more than 0 and at most {settings.max_train_minutes:g} "
                            f"(PROVOICE_MAX_TRAIN_MINUTES), not {minutes!r}")
    return budget


def hold_key(pvc_id: str, attempt: int) -> str:
    return f"pvc-hold:{pvc_id}:{attempt}"


def claim(catalog: Catalog, settings: Settings, pvc_id: str, *, retry: bool, budget: Budget,
          to: str = "queued", flow_run_id: str | None = None, lease: bool = False) -> Pvc:
    """Start an attempt: draft|failed (a retry: failed only) → `to`, with the credit hold and the
    budget, in one transaction; anything else is refused with the reason, and so is a PVC without
    its speaker's verified consent. A training PVC, or a queued one with `lease` (queued in this
    process), gets a lease at once."""
    pvc = get_pvc(catalog, pvc_id)
    allowed = ("failed",) if retry else ("draft", "failed")
    checked_budget(settings, budget)
    if pvc.status not in allowed and (why := refusal(pvc, retry)):
        raise PvcRefused(why)
    require_consent(catalog, settings, pvc)
    if budget.empty:
        stored = Budget(pvc.budget_steps, pvc.budget_minutes)
        own = not stored.empty and (retry or pvc.status == "draft")  # a retry's, or the draft's own from its form
        budget = stored if own else Budget(max_minutes=recipe_for(settings).default_minutes(settings))
    attempt = pvc.attempts + 1
    with catalog.account_transaction(pvc.account_id) as s:
        done = s.execute(update(Pvc).where(Pvc.id == pvc_id, Pvc.status.in_(allowed), Pvc.attempts == pvc.attempts)
                         .values(status=to, step=STEPS[0] if to == "training" else None, reason=None,
                                 failure_kind=None, attempts=attempt, updated_at=utcnow(), finished_at=None,
                                 flow_run_id=flow_run_id, budget_steps=budget.max_steps,
                                 budget_minutes=budget.max_minutes,
                                 lease_expires_at=_lease(settings) if to == "training" or lease else None)).rowcount
        if done == 1:
            place_hold(catalog, pvc.account_id, PVC_TRAINING_CREDITS, "pvc_training", pvc_id,
                       hold_key(pvc_id, attempt), purpose=f"training PVC {pvc_id}", session=s)
    if done != 1:
        raise PvcRefused(refusal(get_pvc(catalog, pvc_id), retry) or f"PVC {pvc_id} changed while starting; try again")
    return get_pvc(catalog, pvc_id)


def refusal(pvc: Pvc, retry: bool) -> str | None:
    """Why the PVC cannot start an attempt now, or None."""
    if pvc.status in ("queued", "training"):
        return f"PVC {pvc.id} is already {pvc.status} (attempt {pvc.attempts}" + (
            f", step: {pvc.step})" if pvc.step else ")")
    if pvc.status == "completed":
        return (f"PVC {pvc.id} is completed with model {pvc.model_id}; it cannot be "
                f"{'retried' if retry else 'trained again'} (retraining on a newer base model creates a new model)")
    if retry and pvc.status == "draft":
        return f"PVC {pvc.id} has not been trained yet: run `provoice pvc train {pvc.id}` (POST /fine-tunes/{pvc.id}/train)"
    return None


def record_flow_run(catalog: Catalog, pvc_id: str, flow_run_id: str) -> None:
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == pvc_id).values(flow_run_id=flow_run_id, updated_at=utcnow()))


def begin_training(catalog: Catalog, settings: Settings, pvc_id: str, *, retry: bool, budget: Budget,
                   flow_run_id: str | None) -> Pvc:
    """What a worker does first: take a queued PVC (its own flow run's, or one queued in-process) to
    `training` with a lease, or claim a draft/failed one directly (a run started from the UI form)."""
    pvc = get_pvc(catalog, pvc_id)
    if pvc.status == "queued":
        with catalog.session() as s:
            done = s.execute(update(Pvc).where(
                Pvc.id == pvc_id, Pvc.status == "queued",
                or_(Pvc.flow_run_id.is_(None), Pvc.flow_run_id == flow_run_id)).values(
                status="training", step=STEPS[0], flow_run_id=flow_run_id, lease_expires_at=_lease(settings),
                updated_at=utcnow())).rowcount
        if done != 1:
            raise PvcRefused(f"PVC {pvc_id} is queued for flow run {pvc.flow_run_id}, not {flow_run_id}")
        return get_pvc(catalog, pvc_id)
    return claim(catalog, settings, pvc_id, retry=retry, budget=budget, to="training", flow_run_id=flow_run_id)


def heartbeat(catalog: Catalog, settings: Settings, pvc_id: str) -> bool:
    """Renew the lease of a training PVC; False once the PVC is no longer training."""
    with catalog.session() as s:
        return s.execute(update(Pvc).where(Pvc.id == pvc_id, Pvc.status == "training")
                         .values(lease_expires_at=_lease(settings))).rowcount == 1


def fail_attempt(catalog: Catalog, pvc_id: str, reason: str, kind: str | None = None,
                 only_if: Iterable[str] = ("queued", "training")) -> Pvc | None:
    """End the current attempt as failed and release its hold; None if it was not running."""
    pvc = get_pvc(catalog, pvc_id)
    with catalog.session() as s:
        done = s.execute(update(Pvc).where(Pvc.id == pvc_id, Pvc.status.in_(tuple(only_if))).values(
            status="failed", reason=reason, failure_kind=kind, step=None, lease_expires_at=None,
            updated_at=utcnow(), finished_at=utcnow())).rowcount
    if done != 1:
        return None
    release_hold(catalog, hold_key(pvc_id, pvc.attempts))
    return get_pvc(catalog, pvc_id)


def reap(catalog: Catalog, pvcs: Iterable[Pvc] | None = None,
         ended_runs: Callable[[list[str]], dict[str, str]] | None = None) -> list[Pvc]:
    """Fail training PVCs whose lease has expired, and queued or training PVCs whose flow run has
    ended (`ended_runs(ids)` → {id: state name} of those that ended; only with a Prefect API)."""
    if pvcs is None:
        with catalog.session() as s:
            pvcs = list(s.scalars(select(Pvc).where(Pvc.status.in_(("queued", "training")))))
    pvcs = [p for p in pvcs if p.status in ("queued", "training")]
    now = utcnow()
    ended = ended_runs([p.flow_run_id for p in pvcs if p.flow_run_id]) if ended_runs and pvcs else {}
    reaped = []
    for p in pvcs:
        lease = p.lease_expires_at
        if lease is not None and lease.tzinfo is None:
            lease = lease.replace(tzinfo=now.tzinfo)
        if p.flow_run_id in ended:
            failed = fail_attempt(catalog, p.id, RUN_ENDED.format(state=ended[p.flow_run_id]), "worker-lost",
                                  only_if=(p.status,))
        elif lease is not None and lease < now:
            failed = fail_attempt(catalog, p.id, WORKER_LOST, "worker-lost", only_if=(p.status,))
        else:
            continue
        if failed is not None:
            reaped.append(failed)
    return reaped


def _lease(settings: Settings):
    return utcnow() + timedelta(seconds=settings.pvc_lease_seconds)


class Heartbeat:
    """Renews a training PVC's lease every third of its length while the block runs (a thread, so a
    long training step does not starve it); the lease lapses by itself when the process dies."""

    def __init__(self, catalog: Catalog, settings: Settings, pvc_id: str):
        self.catalog, self.settings, self.pvc_id = catalog, settings, pvc_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{pvc_id}", daemon=True)

    def _beat(self) -> None:
        interval = max(0.2, self.settings.pvc_lease_seconds / 3)
        while not self._stop.wait(interval):
            try:
                if not heartbeat(self.catalog, self.settings, self.pvc_id):
                    return
            except Exception:  # a database hiccup: the next beat tries again before the lease ends
                continue

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
