"""Charge step: the PVC's credit hold becomes its charge, exactly once per (PVC, model), in the
transaction that completes the PVC; its owner is told."""

from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.catalog import Catalog
from provoice.pvc.transitions import complete
from provoice.settings import Settings
from tasks.notify import notifier
from tasks.retry import STEP_OPTIONS


@task(name="charge", cache_policy=NO_CACHE, **STEP_OPTIONS)
def charge_task(settings: Settings, pvc_id: str, voice_ids: Sequence[str] = ()) -> None:
    complete(Catalog(settings), pvc_id, voice_ids=voice_ids, notify=notifier(settings))
