"""A preparation run's lease: the process preparing a dataset renews it while it lives, so a run
whose process died (SIGKILL, a lost machine, a killed worker) is found by its lapsed lease and
failed, saying why, instead of showing "being prepared" for ever and refusing the dataset's
deletion. Preparing again resumes from the steps already done (their results are kept by content)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import exists, select, update

from provoice.catalog import Catalog, PreparationRun, PreparationStatus, rows_changed
from provoice.catalog.models import utcnow
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


class RunLease:
    """Renews a preparation run's lease every third of its length while the block runs (a thread, so
    a long transcription does not starve it); it lapses by itself when the process dies."""

    def __init__(self, catalog: Catalog, settings: Settings, run_id: str):
        self.catalog, self.run_id, self.lease_s = catalog, run_id, settings.prepare_lease_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{run_id}", daemon=True)

    def _renew(self) -> None:
        try:
            self.catalog.update_run(self.run_id, lease_until=utcnow() + timedelta(seconds=self.lease_s))
        except Exception:  # a database hiccup: the next beat tries again before the lease ends
            pass

    def _beat(self) -> None:
        while not self._stop.wait(max(0.2, self.lease_s / 3)):
            self._renew()

    def __enter__(self) -> RunLease:
        self._renew()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
