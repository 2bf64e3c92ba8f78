"""Datasets as one account sees them: another account's dataset is indistinguishable from none."""

from __future__ import annotations

from sqlalchemy import select

from provoice.catalog import Catalog, Dataset
from provoice.errors import NotFound


def owned_dataset(catalog: Catalog, dataset_id: str, account_id: str) -> Dataset:
    with catalog.session() as s:
        ds = s.get(Dataset, dataset_id)
    if ds is None or ds.account_id != account_id:
        raise NotFound(f"no dataset with id {dataset_id!r} (see GET /datasets)")
    return ds


def account_datasets(catalog: Catalog, account_id: str) -> list[Dataset]:
    with catalog.session() as s:
        q = select(Dataset).where(Dataset.account_id == account_id).order_by(Dataset.created_at, Dataset.id)
        return list(s.scalars(q))
