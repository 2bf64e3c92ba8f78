"""Reaper: PVCs whose worker is gone (lease expired, or flow run ended without finishing them)
become `failed` with a reason the owner can act on, and the owner is told (once: a PVC that a GET
already reaped is not reaped, nor announced, again)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from provoice.catalog import Catalog
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
    return [p.id for p in reaped]
