"""Catalog side of ingest: register uploads in a dataset, reporting duplicates by content."""

from __future__ import annotations

from provoice.catalog import Catalog, DatasetFile
from provoice.dataset.ingest import Ingested
from provoice.names import file_name


def register(catalog: Catalog, dataset_id: str, item: Ingested) -> DatasetFile:
    """Add one ingested upload; an exact duplicate is kept as a rejected record naming the first."""
    first = next((f for f in catalog.files(dataset_id) if f.sha256 == item.sha256 and f.duplicate_of is None), None)
    fields = dict(
        dataset_id=dataset_id,
        original_name=file_name(item.display_name),
        sha256=item.sha256,
        size=item.size,
        raw_uri=item.raw_uri,
        format=item.format,
        duration_s=item.duration_s,
        sample_rate=item.sample_rate,
    )
    if first is not None:
        return catalog.add_file(
            **fields,
            status="rejected",
            duplicate_of=first.id,
            reason=f"duplicate of {first.original_name!r} ({first.id})",
        )
    if item.reason:
        return catalog.add_file(**fields, status="rejected", reason=item.reason)
    return catalog.add_file(**fields, status="pending")


def processable(f: DatasetFile) -> bool:
    """Files that passed ingest go through prepare: ingest leaves `format` unset on every rejection."""
    return f.format is not None and f.duplicate_of is None
