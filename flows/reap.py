"""Reaper: PVCs whose worker is gone (lease expired, or flow run ended without finishing them)
become `failed` with a reason the owner can act on, and the owner is told (once: a PVC that a GET
already reaped is not reaped, nor announced, again). Preparations whose process died (their lease
lapsed) are failed as interrupted too, so no dataset stays "being prepared"."""

from __future__ import annotations

from prefect import flow, get_run_logger

from provoice.catalog import Catalog
from provoice.dataset.runs import fail_lapsed_runs
from provoice.pvc.lifecycle import reap
from provoice.settings import Settings
from tasks.flow_runs import ended_flow_runs
from tasks.notify import notifier


@flow(name="reap-pvcs")
def reap_pvcs() -> list[str]:
    """Fail every PVC left `queued` or `training` by a worker that is gone; their ids."""
    settings = Settings()
    catalog = Catalog(settings)
    reaped = reap(catalog, ended_runs=ended_flow_runs, notify=notifier(settings))
    for pvc in reaped:
        get_run_logger().warning("PVC %s failed: %s", pvc.id, pvc.reason)
    if interrupted := fail_lapsed_runs(catalog):
        get_run_logger().warning("%d preparation(s) whose process stopped failed as interrupted", interrupted)
    return [p.id for p in reaped]
