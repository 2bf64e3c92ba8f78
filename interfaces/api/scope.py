"""Datasets as one account sees them: another account's dataset is indistinguishable from none."""

from __future__ import annotations

from sqlalchemy import select

from provoice.catalog import Catalog, Dataset


def owned_dataset(catalog: Catalog, dataset_id: str, account_id: str) -> Dataset:
    return catalog.owned(Dataset, dataset_id, account_id, f"no dataset with id {dataset_id!r} (see GET /datasets)")


def account_datasets(catalog: Catalog, account_id: str) -> list[Dataset]:
    with catalog.session() as s:
        q = select(Dataset).where(Dataset.account_id == account_id).order_by(Dataset.created_at, Dataset.id)
        return list(s.scalars(q))
