"""Charge step: the PVC's credit hold becomes its charge, exactly once per (PVC, model)."""

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.catalog import Catalog
from provoice.credits import charge_hold
from provoice.settings import Settings
from tasks.retry import STEP_OPTIONS


def charge_key(pvc_id: str, model_id: str) -> str:
    """One debit per trained model: retries and re-runs reuse the key; a new base model does not."""
    return f"pvc-training:{pvc_id}:{model_id}"


@task(name="charge", cache_policy=NO_CACHE, **STEP_OPTIONS)
def charge_task(settings: Settings, pvc_id: str, model_id: str, hold: str) -> None:
    charge_hold(Catalog(settings), hold, charge_key(pvc_id, model_id))
