"""Reaper: PVCs whose worker is gone (lease expired, or flow run ended without finishing them)
become `failed` with a reason the owner can act on, and the owner is told."""

from __future__ import annotations

from prefect import flow, get_run_logger

from provoice.catalog import Catalog
from provoice.notify import Notification
from provoice.pvc.lifecycle import reap
from provoice.settings import Settings
from tasks.flow_runs import ended_flow_runs
from tasks.notify import notify_task


@flow(name="reap-pvcs")
def reap_pvcs() -> list[str]:
    """Fail every PVC left `queued` or `training` by a worker that is gone; their ids."""
    settings = Settings()
    catalog = Catalog(settings)
    reaped = reap(catalog, ended_runs=ended_flow_runs)
    for pvc in reaped:
        get_run_logger().warning("PVC %s failed: %s", pvc.id, pvc.reason)
        notify_task(settings, Notification(pvc_id=pvc.id, pvc_name=pvc.name, status="failed", reason=pvc.reason),
                    [pvc.webhook_url] if pvc.webhook_url else [], settings.notify_blocks)
    return [p.id for p in reaped]
