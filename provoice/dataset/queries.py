"""What users see of datasets, read from the catalog: a listing's file counts in one query, a page of
a prepared version's segments in two."""

from __future__ import annotations

import collections
from collections.abc import Sequence

from sqlalchemy import func, select

from provoice.catalog import Catalog, Dataset, DatasetFile, PreparationRun, PreparationStatus, PreparedSegment
from provoice.dataset.outputs import read_manifest, reason_category
from provoice.dataset.runs import fail_lapsed_runs
from provoice.errors import NotFound
from provoice.storage import Storage
from provoice.views import (
    DatasetRow,
    DatasetView,
    FileView,
    PreparationView,
    PreparingView,
    SegmentPage,
    SegmentView,
    report_url,
)

#: The most segments one page holds (API and Playground).
MAX_SEGMENTS_PER_PAGE = 500


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
        transcript_accuracy=run.summary.get("transcript_accuracy"),
        report_url=report_url(run.dataset_id, run.version),
    )


def dataset_view(catalog: Catalog, ds: Dataset) -> DatasetView:
    """A dataset with its files, its latest completed preparation and the one in progress, if any (a
    run whose process died is failed here once its lease lapsed, so it is not shown as in progress)."""
    fail_lapsed_runs(catalog, ds.id)
    latest, running = catalog.latest_run(ds.id), catalog.latest_run(ds.id, status=PreparationStatus.RUNNING)
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


def segment_counts(catalog: Catalog, storage: Storage, run: PreparationRun) -> dict[bool, int]:
    """How many segments of a prepared version were kept (True) and rejected (False), in one
    query. A version prepared before the catalog kept segments gets them from its stored
    `segments.jsonl` here, once."""
    with catalog.session() as s:
        counts = dict(
            s.execute(
                select(PreparedSegment.kept, func.count())
                .where(PreparedSegment.dataset_id == run.dataset_id, PreparedSegment.version == run.version)
                .group_by(PreparedSegment.kept)
            )
            .tuples()
            .all()
        )
    if not counts and run.report_uri:
        uri = storage.read_json(storage.key_of(run.report_uri)).get("segments_uri")
        if uri and catalog.save_segments(run.dataset_id, run.version, read_manifest(storage, uri)):
            return segment_counts(catalog, storage, run)
    return {True: counts.get(True, 0), False: counts.get(False, 0)}


def rejected_seconds(catalog: Catalog, run: PreparationRun) -> tuple[collections.Counter, set[str]]:
    """Seconds of rejected segments by kind of reason, and the files that have any segment: what the
    report's bars need, without reading the kept segments."""
    where = (PreparedSegment.dataset_id == run.dataset_id, PreparedSegment.version == run.version)
    seconds: collections.Counter = collections.Counter()
    with catalog.session() as s:
        for reason, start, end in s.execute(
            select(PreparedSegment.reason, PreparedSegment.start, PreparedSegment.end).where(
                *where, PreparedSegment.kept.is_(False)
            )
        ):
            seconds[reason_category(reason or "")] += end - start
        files = set(s.scalars(select(PreparedSegment.file_id).where(*where).distinct()))
    return seconds, files


def segment_page(
    catalog: Catalog,
    run: PreparationRun,
    counts: dict[bool, int],
    *,
    limit: int,
    cursor: int | None = None,
    offset: int = 0,
    kept: bool | None = None,
) -> SegmentPage:
    """Segments of a prepared version in their stable order, `limit` at a time: after index
    `cursor` (keyset, for the API) or from the `offset`-th (numbered pages); one indexed query,
    never the whole version in memory."""
    limit = max(1, min(limit, MAX_SEGMENTS_PER_PAGE))
    q = select(PreparedSegment).where(
        PreparedSegment.dataset_id == run.dataset_id, PreparedSegment.version == run.version
    )
    if kept is not None:
        q = q.where(PreparedSegment.kept == kept)
    if cursor is not None:
        q = q.where(PreparedSegment.position > cursor)
    q = q.order_by(PreparedSegment.position).offset(max(offset, 0) if cursor is None else 0).limit(limit + 1)
    with catalog.session() as s:
        rows = list(s.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return SegmentPage(
        dataset_id=run.dataset_id,
        version=run.version,
        kept=kept,
        total=counts[True] + counts[False] if kept is None else counts[kept],
        limit=limit,
        segments=[
            SegmentView(
                index=r.position,
                file_id=r.file_id,
                start=r.start,
                end=r.end,
                text=r.text,
                kept=r.kept,
                reason=r.reason,
                warnings=r.warnings,
            )
            for r in rows
        ],
        next_cursor=rows[-1].position if more else None,
    )


def segment_at(catalog: Catalog, storage: Storage, run: PreparationRun, index: int) -> PreparedSegment:
    """One segment of a prepared version by its index."""
    q = select(PreparedSegment).where(
        PreparedSegment.dataset_id == run.dataset_id,
        PreparedSegment.version == run.version,
        PreparedSegment.position == index,
    )
    with catalog.session() as s:
        row = s.scalars(q).first()
    if row is None:  # a version prepared before the catalog kept segments gets them now
        segment_counts(catalog, storage, run)
        with catalog.session() as s:
            row = s.scalars(q).first()
    if row is None:
        raise NotFound(f"version {run.version} of dataset {run.dataset_id} has no segment {index}")
    return row
