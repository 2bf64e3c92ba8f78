"""Preparation runs and their lease, on SQLite and PostgreSQL: a live run renews it and stays
"being prepared"; a run whose process died is failed once its lease lapses, saying why, and no
longer blocks the dataset."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from provoice.catalog import PreparationRun
from provoice.catalog.models import utcnow
from provoice.dataset.queries import dataset_view
from provoice.dataset.runs import RunLease, fail_lapsed_runs
from provoice.errors import ProVoiceError
from provoice.pvc.service import delete_dataset

pytestmark = pytest.mark.both_databases


def _running(catalog, dataset_id: str) -> bool:
    return dataset_view(catalog, catalog.get_dataset(dataset_id)).preparing is not None


def test_a_renewed_run_stays_and_a_lapsed_one_is_failed_saying_why(catalog, settings, monkeypatch):
    monkeypatch.setattr(settings, "prepare_lease_seconds", 0.6)
    live, dead = catalog.create_dataset("live"), catalog.create_dataset("dead")
    live_run = catalog.start_run(live.id, "v1", {}, 10, lease_s=0.6)
    dead_run = catalog.start_run(dead.id, "v1", {}, 10, lease_s=0.6)
    with RunLease(catalog, settings, live_run.id):
        with RunLease(catalog, settings, dead_run.id):
            pass  # its process "dies": nothing renews the lease any more
        time.sleep(1.5)
        assert _running(catalog, live.id)
        assert not _running(catalog, dead.id)
    failed = catalog.get_run(dead_run.id)
    assert failed.status == "failed" and failed.finished_at is not None
    assert "interrupted: the process preparing it stopped" in failed.summary["message"]
    assert catalog.get_run(live_run.id).status == "running"

    with pytest.raises(ProVoiceError, match="while it is being prepared"):
        delete_dataset(catalog, live.id)
    time.sleep(1.0)  # the live run's process "dies" too
    delete_dataset(catalog, live.id)


def test_a_run_whose_process_died_at_once_lapses_a_lease_after_its_start(catalog):
    ds = catalog.create_dataset("d")
    run = catalog.start_run(ds.id, "v1", {}, 10, lease_s=60)
    assert fail_lapsed_runs(catalog) == 0 and _running(catalog, ds.id)
    with catalog.session() as s:
        s.execute(
            update(PreparationRun)
            .where(PreparationRun.id == run.id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    assert fail_lapsed_runs(catalog, ds.id) == 1
    assert catalog.get_run(run.id).status == "failed"
    assert fail_lapsed_runs(catalog) == 0, "a failed run is not failed again"
