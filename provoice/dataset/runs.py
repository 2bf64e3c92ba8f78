"""A preparation run's lease: the process preparing a dataset renews it while it lives, so a run
whose process died (SIGKILL, a lost machine, a killed worker) is found by its lapsed lease and
failed, saying why, instead of showing "being prepared" for ever and refusing the dataset's
deletion. Preparing again resumes from the steps already done (their results are kept by content)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select, update

from provoice.catalog import Catalog, PreparationRun, PreparationStatus, rows_changed
from provoice.catalog.models import utcnow
from provoice.leases import LeaseRenewer
from provoice.settings import Settings

INTERRUPTED = (
    "interrupted: the process preparing it stopped before it finished (its lease lapsed); prepare the "
    "dataset again to go on from the steps already done"
)


def fail_lapsed_runs(catalog: Catalog, dataset_id: str | None = None) -> int:
    """Fail the running preparations (of one dataset, or all) whose lease lapsed; how many. The lease
    is set when a run starts (`Catalog.start_run`), so this needs no settings of the reader's."""
    now = utcnow()
    lapsed = [PreparationRun.status == PreparationStatus.RUNNING, PreparationRun.lease_until < now]
    if dataset_id is not None:
        lapsed.append(PreparationRun.dataset_id == dataset_id)
    # Read first, on its own: readers call this on every view, and an UPDATE takes SQLite's write lock
    # even when it matches nothing (the UPDATE then runs alone, see `Catalog.update_run`).
    with catalog.session() as s:
        if not s.scalar(select(exists().where(*lapsed))):
            return 0
    with catalog.session() as s:
        return rows_changed(
            s,
            update(PreparationRun)
            .where(*lapsed)
            .values(status=PreparationStatus.FAILED, finished_at=now, summary={"message": INTERRUPTED}),
        )


class RunLease(LeaseRenewer):
    """Renews a preparation run's lease while the block runs (`provoice.leases.LeaseRenewer`)."""

    def __init__(self, catalog: Catalog, settings: Settings, run_id: str):
        lease_s = settings.prepare_lease_seconds

        def renew() -> bool:
            catalog.update_run(run_id, lease_until=utcnow() + timedelta(seconds=lease_s))
            return True

        super().__init__(renew, lease_s, f"lease-{run_id}")
