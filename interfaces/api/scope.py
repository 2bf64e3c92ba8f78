"""Datasets and PVCs as one account sees them: another account's is indistinguishable from none."""

from __future__ import annotations

from sqlalchemy import select

from interfaces.api.notifications import notify_in_background
from provoice.catalog import Catalog, Dataset, Pvc
from provoice.pvc.lifecycle import reap
from provoice.pvc.service import get_pvc
from provoice.pvc.status import ACTIVE
from provoice.settings import Settings
from tasks.flow_runs import ended_flow_runs


def owned_dataset(catalog: Catalog, dataset_id: str, account_id: str) -> Dataset:
    return catalog.owned(Dataset, dataset_id, account_id, f"no dataset with id {dataset_id!r} (see GET /datasets)")


def account_datasets(catalog: Catalog, account_id: str) -> list[Dataset]:
    with catalog.session() as s:
        q = select(Dataset).where(Dataset.account_id == account_id).order_by(Dataset.created_at, Dataset.id)
        return list(s.scalars(q))


def current_pvc(catalog: Catalog, settings: Settings, pvc_id: str, account_id: str) -> Pvc:
    """The PVC now: a queued or training PVC whose worker is gone is failed first (resumable), and
    its owner told."""
    pvc = get_pvc(catalog, pvc_id, account_id)
    if pvc.status in ACTIVE:
        reap(catalog, [pvc], ended_runs=ended_flow_runs, notify=notify_in_background(settings))
        pvc = get_pvc(catalog, pvc_id)
    return pvc
