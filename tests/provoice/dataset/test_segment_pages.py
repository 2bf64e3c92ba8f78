"""A prepared version's segments page through the catalog: each once, in a stable order, a bounded
number of indexed queries per page, whatever the version holds."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from provoice.catalog import Catalog
from provoice.dataset.queries import segment_counts, segment_page
from provoice.storage import Storage
from tests.query_count import counted

SEGMENTS = 3000


def prepared_version(catalog: Catalog, n: int = SEGMENTS, account_id: str | None = None):
    """A completed preparation of a dataset holding `n` segment rows, every seventh rejected."""
    ds = catalog.create_dataset("big", account_id=account_id)
    run = catalog.start_run(ds.id, "v1", {}, 1, lease_s=60)
    catalog.update_run(run.id, status="completed")
    decisions = (
        {
            "file_id": f"f_{i // 100:03d}",
            "audio_uri": f"file:///store/audio{i // 100}.wav",
            "start": float(i % 100),
            "end": float(i % 100) + 0.8,
            "text": f"segment {i}",
            "reason": "too quiet: -52 dBFS" if i % 7 == 0 else None,
        }
        for i in range(n)
    )
    assert catalog.save_segments(ds.id, "v1", decisions) == n
    return catalog.get_run(run.id)


def test_paging_returns_every_segment_once_in_order_with_one_query_a_page(settings):
    catalog = Catalog(settings)
    run = prepared_version(catalog)
    counts = segment_counts(catalog, Storage.from_settings(settings), run)
    assert counts == {True: SEGMENTS - 429, False: 429}
    seen, cursor, pages = [], None, 0
    while True:
        with counted(catalog) as statements:
            page = segment_page(catalog, run, counts, limit=128, cursor=cursor)
        assert len(statements) == 1 and page.total == SEGMENTS and len(page.segments) <= 128
        seen += [s.index for s in page.segments]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(range(SEGMENTS)) and pages == -(-SEGMENTS // 128)
    rejected = segment_page(catalog, run, counts, limit=500, kept=False)
    assert rejected.total == 429 and all(not s.kept and s.index % 7 == 0 for s in rejected.segments)
    by_offset = segment_page(catalog, run, counts, limit=50, offset=2950)
    assert [s.index for s in by_offset.segments] == list(range(2950, 3000)) and by_offset.next_cursor is None


def test_the_page_query_reads_an_index(settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the query plan is read with SQLite's EXPLAIN QUERY PLAN")
    catalog = Catalog(settings)
    run = prepared_version(catalog, 50)
    sql = (
        "EXPLAIN QUERY PLAN SELECT * FROM prepared_segments WHERE dataset_id = :d AND version = :v "
        "AND kept = 0 AND position > 10 ORDER BY position LIMIT 5"
    )
    with catalog.session() as s:
        plan = " ".join(str(row[-1]) for row in s.execute(text(sql), {"d": run.dataset_id, "v": run.version}))
    assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan


def test_preparing_again_replaces_the_versions_rows(settings):
    catalog = Catalog(settings)
    run = prepared_version(catalog, 20)
    catalog.save_segments(run.dataset_id, run.version, [])
    assert segment_counts(catalog, Storage.from_settings(settings), run) == {True: 0, False: 0}
