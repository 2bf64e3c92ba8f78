"""Every change of a PVC's status, each with its side effects in one place.

    draft ──claim──► queued ──begin_training──► training ──complete──► completed    (hold → charge)
    draft | failed ──claim──► training                   (a run started from the deployment form)
    queued | training ──fail_attempt──► failed                                      (hold released)
    failed ──claim (a retry)──► queued | training

- `claim` starts an attempt in one transaction holding the account's write lock: the conditional
  status change, the budget and the hold of 1,000,000 credits land together or not at all, so of
  two PVCs started together on exactly 1,000,000 credits one runs and the other is refused with the
  figures. No attempt starts without the speaker's verified consent, retries included.
- A training PVC holds a lease (taken here, renewed by `lifecycle.heartbeat`, ended here).
- `complete` charges the hold and `fail_attempt` releases it, each in the transaction that ends the
  attempt. Both tell the owner through the caller's `notify`, and only the caller whose conditional
  update made the change does: a PVC is announced once, whoever (flow, reaper, a GET) ended it.
- Anything the table `LEGAL` does not have raises `IllegalTransition`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, update

from provoice.catalog import Catalog, Pvc, rows_changed
from provoice.catalog.models import utcnow
from provoice.consent import require_consent
from provoice.credits import PVC_TRAINING_CREDITS, charge_hold, place_hold, release_hold
from provoice.notify import Notification
from provoice.pvc.budget import Budget, checked_budget
from provoice.pvc.service import PvcRefused, get_pvc
from provoice.pvc.status import ACTIVE, STARTABLE, PvcStatus, PvcStep
from provoice.settings import Settings
from provoice.voice_models import recipe_for

__all__ = [
    "LEGAL",
    "IllegalTransition",
    "Notify",
    "begin_training",
    "charge_key",
    "claim",
    "complete",
    "fail_attempt",
    "hold_key",
    "lease_until",
    "notification",
    "refusal",
]

#: Where each status may go next.
LEGAL: dict[PvcStatus, tuple[PvcStatus, ...]] = {
    PvcStatus.DRAFT: (PvcStatus.QUEUED, PvcStatus.TRAINING),
    PvcStatus.QUEUED: (PvcStatus.TRAINING, PvcStatus.FAILED),
    PvcStatus.TRAINING: (PvcStatus.COMPLETED, PvcStatus.FAILED),
    PvcStatus.COMPLETED: (),
    PvcStatus.FAILED: (PvcStatus.QUEUED, PvcStatus.TRAINING),
}

#: Tells a PVC's owner: the notification and the PVC's own webhooks (the settings' channels are the notifier's).
Notify = Callable[[Notification, Sequence[str]], None]


class IllegalTransition(PvcRefused):
    """A status change the PVC's state machine does not have."""


def _require(pvc_id: str, status: str, to: PvcStatus) -> None:
    if to not in LEGAL[PvcStatus(status)]:
        raise IllegalTransition(f"PVC {pvc_id} cannot go from {status} to {to}")


def hold_key(pvc_id: str, attempt: int) -> str:
    """The credit hold of one attempt."""
    return f"pvc-hold:{pvc_id}:{attempt}"


def charge_key(pvc_id: str, model_id: str) -> str:
    """One debit per trained model: retries and re-runs reuse the key; a new base model does not."""
    return f"pvc-training:{pvc_id}:{model_id}"


def lease_until(settings: Settings) -> datetime:
    return utcnow() + timedelta(seconds=settings.pvc_lease_seconds)


def notification(pvc: Pvc, voice_ids: Sequence[str] = ()) -> Notification:
    """What the owner is told when an attempt ends."""
    return Notification(
        pvc_id=pvc.id,
        pvc_name=pvc.name,
        status=pvc.status,
        model_id=pvc.model_id,
        voice_ids=tuple(voice_ids),
        reason=pvc.reason,
    )


def _tell(notify: Notify | None, pvc: Pvc, voice_ids: Sequence[str]) -> None:
    if notify is not None:
        notify(notification(pvc, voice_ids), [pvc.webhook_url] if pvc.webhook_url else [])


def refusal(pvc: Pvc, retry: bool) -> str | None:
    """Why the PVC cannot start an attempt now, or None."""
    if pvc.status in ACTIVE:
        return f"PVC {pvc.id} is already {pvc.status} (attempt {pvc.attempts}" + (
            f", step: {pvc.step})" if pvc.step else ")"
        )
    if pvc.status == PvcStatus.COMPLETED:
        return (
            f"PVC {pvc.id} is completed with model {pvc.model_id}; it cannot be "
            f"{'retried' if retry else 'trained again'} (retraining on a newer base model creates a new model)"
        )
    if retry and pvc.status == PvcStatus.DRAFT:
        return (
            f"PVC {pvc.id} has not been trained yet: run `provoice pvc train {pvc.id}` "
            f"(POST /fine-tunes/{pvc.id}/train)"
        )
    return None


def claim(
    catalog: Catalog,
    settings: Settings,
    pvc_id: str,
    *,
    retry: bool,
    budget: Budget,
    to: PvcStatus = PvcStatus.QUEUED,
    flow_run_id: str | None = None,
    lease: bool = False,
) -> Pvc:
    """Start an attempt: draft|failed (a retry: failed only) → `to` (queued or training), with the
    credit hold and the budget, in one transaction; anything else is refused with the reason, and so
    is a PVC without its speaker's verified consent. A training PVC, or a queued one with `lease`
    (queued in this process), gets a lease at once."""
    to = PvcStatus(to)
    if to not in (PvcStatus.QUEUED, PvcStatus.TRAINING):
        raise IllegalTransition(f"an attempt of PVC {pvc_id} starts queued or training, not {to}")
    pvc = get_pvc(catalog, pvc_id)
    allowed = (PvcStatus.FAILED,) if retry else STARTABLE
    checked_budget(settings, budget)
    if pvc.status not in allowed and (why := refusal(pvc, retry)):
        raise PvcRefused(why)
    require_consent(catalog, settings, pvc)
    if budget.empty:
        stored = Budget(pvc.budget_steps, pvc.budget_minutes)
        own = not stored.empty and (retry or pvc.status == PvcStatus.DRAFT)  # a retry's, or the draft's own
        budget = stored if own else Budget(max_minutes=recipe_for(settings).default_minutes(settings))
    attempt = pvc.attempts + 1
    training = to == PvcStatus.TRAINING
    with catalog.account_transaction(pvc.account_id) as s:
        done = rows_changed(
            s,
            update(Pvc)
            .where(Pvc.id == pvc_id, Pvc.status.in_(allowed), Pvc.attempts == pvc.attempts)
            .values(
                status=to,
                step=PvcStep.PREPARING_DATA if training else None,
                reason=None,
                failure_kind=None,
                attempts=attempt,
                updated_at=utcnow(),
                finished_at=None,
                flow_run_id=flow_run_id,
                budget_steps=budget.max_steps,
                budget_minutes=budget.max_minutes,
                lease_expires_at=lease_until(settings) if training or lease else None,
            ),
        )
        if done == 1:
            place_hold(
                catalog,
                pvc.account_id,
                PVC_TRAINING_CREDITS,
                "pvc_training",
                pvc_id,
                hold_key(pvc_id, attempt),
                purpose=f"training PVC {pvc_id}",
                session=s,
            )
    if done != 1:
        raise PvcRefused(refusal(get_pvc(catalog, pvc_id), retry) or f"PVC {pvc_id} changed while starting; try again")
    return get_pvc(catalog, pvc_id)


def begin_training(
    catalog: Catalog, settings: Settings, pvc_id: str, *, retry: bool, budget: Budget, flow_run_id: str | None
) -> Pvc:
    """What a worker does first: take a queued PVC (its own flow run's, or one queued in-process) to
    `training` with a lease, or claim a draft/failed one directly (a run started from the UI form)."""
    pvc = get_pvc(catalog, pvc_id)
    if pvc.status != PvcStatus.QUEUED:
        return claim(
            catalog, settings, pvc_id, retry=retry, budget=budget, to=PvcStatus.TRAINING, flow_run_id=flow_run_id
        )
    with catalog.session() as s:
        done = rows_changed(
            s,
            update(Pvc)
            .where(
                Pvc.id == pvc_id,
                Pvc.status == PvcStatus.QUEUED,
                or_(Pvc.flow_run_id.is_(None), Pvc.flow_run_id == flow_run_id),
            )
            .values(
                status=PvcStatus.TRAINING,
                step=PvcStep.PREPARING_DATA,
                flow_run_id=flow_run_id,
                lease_expires_at=lease_until(settings),
                updated_at=utcnow(),
            ),
        )
    if done != 1:
        raise PvcRefused(f"PVC {pvc_id} is queued for flow run {pvc.flow_run_id}, not {flow_run_id}")
    return get_pvc(catalog, pvc_id)


def complete(
    catalog: Catalog, pvc_id: str, *, notify: Notify | None = None, voice_ids: Sequence[str] = (), **fields
) -> Pvc:
    """training → completed: the attempt's hold becomes its charge (once per model, `charge_key`) in
    the transaction that completes it, the lease ends, and the owner is told. `fields` are the
    outcome to record with it (model_id, evaluation, dataset_version)."""
    pvc = get_pvc(catalog, pvc_id)
    _require(pvc_id, pvc.status, PvcStatus.COMPLETED)
    model_id = fields.get("model_id") or pvc.model_id
    if not model_id:
        raise IllegalTransition(f"PVC {pvc_id} cannot complete without a model")
    with catalog.account_transaction(pvc.account_id) as s:
        done = rows_changed(
            s,
            update(Pvc)
            .where(Pvc.id == pvc_id, Pvc.status == PvcStatus.TRAINING, Pvc.attempts == pvc.attempts)
            .values(
                status=PvcStatus.COMPLETED,
                reason=None,
                step=None,
                lease_expires_at=None,
                updated_at=utcnow(),
                finished_at=utcnow(),
                **fields,
            ),
        )
        if done == 1:
            charge_hold(catalog, hold_key(pvc_id, pvc.attempts), charge_key(pvc_id, model_id), session=s)
    if done != 1:
        now = get_pvc(catalog, pvc_id).status
        raise IllegalTransition(f"PVC {pvc_id} changed while completing: it is {now} now")
    pvc = get_pvc(catalog, pvc_id)
    _tell(notify, pvc, voice_ids)
    return pvc


def fail_attempt(
    catalog: Catalog,
    pvc_id: str,
    reason: str,
    kind: str | None = None,
    *,
    notify: Notify | None = None,
    voice_ids: Sequence[str] = (),
    only_if: Iterable[PvcStatus] = ACTIVE,
    flow_run_id: str | None = None,
) -> Pvc | None:
    """queued|training (or only `only_if`) → failed, with the reason and its kind ("infrastructure",
    "worker-lost" or None): the attempt's hold is released in the same transaction, the lease ends,
    and the owner is told. None, and nothing told, when it was not running: whoever ended it told them.
    `notify` None is for a caller that answers the user itself. With `flow_run_id`, only the attempt
    that flow run owns is failed: a run that outlived its attempt (reaped, then retried) leaves the
    retry alone."""
    only_if = tuple(PvcStatus(s) for s in only_if)
    for status in only_if:
        _require(pvc_id, status, PvcStatus.FAILED)
    pvc = get_pvc(catalog, pvc_id)
    owned = [Pvc.flow_run_id == flow_run_id] if flow_run_id else []
    with catalog.session() as s:
        done = rows_changed(
            s,
            update(Pvc)
            .where(Pvc.id == pvc_id, Pvc.status.in_(only_if), *owned)
            .values(
                status=PvcStatus.FAILED,
                reason=reason,
                failure_kind=kind,
                step=None,
                lease_expires_at=None,
                updated_at=utcnow(),
                finished_at=utcnow(),
            ),
        )
        if done == 1:
            release_hold(catalog, hold_key(pvc_id, pvc.attempts), session=s)
    if done != 1:
        return None
    pvc = get_pvc(catalog, pvc_id)
    _tell(notify, pvc, voice_ids)
    return pvc
