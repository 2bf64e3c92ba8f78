"""Charge step: the PVC's training cost, debited exactly once per (PVC, model)."""

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.catalog import Catalog
from provoice.credits import PVC_TRAINING_CREDITS, debit
from provoice.settings import Settings
from tasks.retry import STEP_OPTIONS


def charge_key(pvc_id: str, model_id: str) -> str:
    """One debit per trained model: retries and re-runs reuse the key; a new base model does not."""
    return f"pvc-training:{pvc_id}:{model_id}"


@task(name="charge", cache_policy=NO_CACHE, **STEP_OPTIONS)
def charge_task(settings: Settings, account_id: str, pvc_id: str, model_id: str) -> None:
    debit(Catalog(settings), account_id, PVC_TRAINING_CREDITS, kind="pvc_training", reference=pvc_id,
          idempotency_key=charge_key(pvc_id, model_id))
