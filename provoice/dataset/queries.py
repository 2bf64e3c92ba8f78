"""What users see of datasets, read from the catalog: a listing's file counts in one query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from provoice.catalog import Catalog, Dataset, DatasetFile, PreparationRun
from provoice.views import DatasetRow, DatasetView, FileView, PreparationView, PreparingView, report_url


def dataset_rows(catalog: Catalog, datasets: Sequence[Dataset]) -> list[DatasetRow]:
    """A dataset listing with file counts in one query."""
    ids = [d.id for d in datasets]
    with catalog.session() as s:
        counts: dict[str, int] = dict(
            s.execute(
                select(DatasetFile.dataset_id, func.count())
                .where(DatasetFile.dataset_id.in_(ids))
                .group_by(DatasetFile.dataset_id)
            )
            .tuples()
            .all()
        )
    return [DatasetRow(id=d.id, name=d.name, created_at=d.created_at, files=counts.get(d.id, 0)) for d in datasets]


def preparation_view(run: PreparationRun | None) -> PreparationView | None:
    """A completed preparation's outcome, or None before the first."""
    if run is None:
        return None
    return PreparationView(
        version=run.version,
        accepted_seconds=run.summary.get("accepted_seconds"),
        enough=run.summary.get("enough"),
        message=run.summary.get("message", ""),
        report_url=report_url(run.dataset_id, run.version),
    )


def dataset_view(catalog: Catalog, ds: Dataset) -> DatasetView:
    """A dataset with its files, its latest completed preparation and the one in progress, if any."""
    latest, running = catalog.latest_run(ds.id), catalog.latest_run(ds.id, status="running")
    preparing = None
    if running is not None and (latest is None or running.created_at >= latest.created_at):
        preparing = PreparingView(
            version=running.version,
            progress_done=running.progress_done,
            progress_total=running.progress_total,
            started_at=running.created_at,
        )
    return DatasetView(
        id=ds.id,
        name=ds.name,
        created_at=ds.created_at,
        files=[FileView.model_validate(f) for f in catalog.files(ds.id)],
        latest_preparation=preparation_view(latest),
        preparing=preparing,
    )


def file_views(files: Sequence[DatasetFile]) -> list[FileView]:
    """Dataset files as users see them."""
    return [FileView.model_validate(f) for f in files]
