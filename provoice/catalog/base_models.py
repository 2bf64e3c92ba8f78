"""Catalog rows of registered base models; their weights and metadata live in blob storage."""

from __future__ import annotations

from sqlalchemy import select, update

from provoice.catalog.db import Catalog
from provoice.catalog.models import BaseModelRecord


def add_base_model(catalog: Catalog, record: BaseModelRecord) -> BaseModelRecord:
    with catalog.session() as s:
        s.add(record)
    return record


def find_base_model(catalog: Catalog, model_id: str) -> BaseModelRecord | None:
    with catalog.session() as s:
        return s.get(BaseModelRecord, model_id)


def list_base_models(catalog: Catalog) -> list[BaseModelRecord]:
    """Oldest first."""
    with catalog.session() as s:
        return list(s.scalars(select(BaseModelRecord).order_by(BaseModelRecord.created_at, BaseModelRecord.id)))


def pin_base_model(catalog: Catalog, model_id: str | None) -> None:
    """Make `model_id` the pinned latest (None: no pin, the newest is latest)."""
    with catalog.session() as s:
        s.execute(update(BaseModelRecord).values(pinned=False))
        if model_id is not None:
            s.execute(update(BaseModelRecord).where(BaseModelRecord.id == model_id).values(pinned=True))
