"""A running attempt's lease and the reaper. The status changes themselves (claim, begin, complete,
fail) are `provoice.pvc.transitions`.

- A training attempt holds a lease that the running flow renews (`heartbeat`, `Heartbeat`). A PVC
  whose lease ran out, or whose flow run ended without finishing it, is failed by `reap` with a
  reason the user can act on, and its owner is told; its checkpoints stay, so a retry resumes.
- The reaper runs wherever the PVC is looked at (the `reap-pvcs` flow, `pvc show`, the API's GETs):
  the first to fail a PVC tells the owner, the others find it failed already.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select, update

from provoice.catalog import Catalog, Pvc, rows_changed
from provoice.catalog.models import utcnow
from provoice.leases import LeaseRenewer
from provoice.pvc.status import ACTIVE, PvcStatus
from provoice.pvc.transitions import Notify, fail_attempt, lease_until
from provoice.settings import Settings

__all__ = ["RUN_ENDED", "WORKER_LOST", "Heartbeat", "heartbeat", "reap", "record_flow_run"]

WORKER_LOST = (
    "the worker running this PVC stopped before it finished; re-attempt training to resume "
    "from the last checkpoint (no credits were charged)"
)
RUN_ENDED = (
    "the flow run of this PVC ended ({state}) without finishing it; re-attempt training to resume "
    "from the last checkpoint (no credits were charged)"
)


def record_flow_run(catalog: Catalog, pvc_id: str, flow_run_id: str) -> None:
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == pvc_id).values(flow_run_id=flow_run_id, updated_at=utcnow()))


def heartbeat(catalog: Catalog, settings: Settings, pvc_id: str) -> bool:
    """Renew the lease of a training PVC; False once the PVC is no longer training."""
    with catalog.session() as s:
        return (
            rows_changed(
                s,
                update(Pvc)
                .where(Pvc.id == pvc_id, Pvc.status == PvcStatus.TRAINING)
                .values(lease_expires_at=lease_until(settings)),
            )
            == 1
        )


def reap(
    catalog: Catalog,
    pvcs: Iterable[Pvc] | None = None,
    ended_runs: Callable[[list[str]], dict[str, str]] | None = None,
    notify: Notify | None = None,
) -> list[Pvc]:
    """Fail training PVCs whose lease has expired, and queued or training PVCs whose flow run has
    ended (`ended_runs(ids)` → {id: state name} of those that ended; only with a Prefect API); each
    one failed here is told to its owner through `notify`. The PVCs failed here."""
    if pvcs is None:
        with catalog.session() as s:
            pvcs = list(s.scalars(select(Pvc).where(Pvc.status.in_(ACTIVE))))
    pvcs = [p for p in pvcs if p.status in ACTIVE]
    now = utcnow()
    ended = ended_runs([p.flow_run_id for p in pvcs if p.flow_run_id]) if ended_runs and pvcs else {}
    reaped = []
    for p in pvcs:
        lease = p.lease_expires_at
        if p.flow_run_id in ended:
            reason = RUN_ENDED.format(state=ended[p.flow_run_id])
        elif lease is not None and lease < now:
            reason = WORKER_LOST
        else:
            continue
        failed = fail_attempt(catalog, p.id, reason, "worker-lost", only_if=(PvcStatus(p.status),), notify=notify)
        if failed is not None:
            reaped.append(failed)
    return reaped


class Heartbeat(LeaseRenewer):
    """Renews a training PVC's lease while the block runs; it stops once the PVC left training.

    `paused` hands the lease to another process (the training worker's fine-tune run renews it
    there), so the lease lapses when that worker dies, not when this one does."""

    def __init__(self, catalog: Catalog, settings: Settings, pvc_id: str):
        self.catalog, self.pvc_id = catalog, pvc_id
        super().__init__(lambda: heartbeat(catalog, settings, pvc_id), settings.pvc_lease_seconds, f"lease-{pvc_id}")

    def still_training(self) -> bool:
        """Whether the PVC is still in its training attempt (not failed meanwhile, e.g. by the reaper)."""
        with self.catalog.session() as s:
            status = s.scalar(select(Pvc.status).where(Pvc.id == self.pvc_id))
        return status == PvcStatus.TRAINING
