"""The shapes users see: list views read a bounded number of queries whatever the row count."""

from contextlib import contextmanager

from sqlalchemy import event

from provoice.accounts import default_account
from provoice.catalog import Catalog, Voice
from provoice.credits import debit, grant
from provoice.pvc.retrain import record
from provoice.pvc.service import create_pvc, finish, list_pvcs
from provoice.catalog.models import utcnow
from provoice.views import dataset_rows, pvc_views


@contextmanager
def counted(catalog: Catalog):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(catalog.engine, "before_cursor_execute", count)


def _completed_pvcs(catalog: Catalog, n: int) -> list:
    account = default_account(catalog).id
    grant(catalog, account, 10_000_000)
    ds = catalog.create_dataset("d")
    for i in range(n):
        pvc = create_pvc(catalog, account, ds.id, f"p{i}", "base")
        pvc = finish(catalog, pvc.id, "completed", model_id=f"base/{pvc.id}")
        with catalog.session() as s:
            s.add(Voice(account_id=account, pvc_id=pvc.id, model_id=f"base/{pvc.id}", name=f"v{i}",
                        source_file_id="f", clip_uri="x", clip_start=0.0, clip_end=1.0, embedding=[0.0]))
        debit(catalog, account, 1000, kind="pvc_training", reference=pvc.id, idempotency_key=f"k-{pvc.id}")
        record(catalog, pvc, "base-2", "kept", "worse", started_at=utcnow())
    return list_pvcs(catalog, account)


def test_listing_pvcs_takes_the_same_queries_for_one_or_many(settings):
    catalog = Catalog(settings)
    few = _completed_pvcs(catalog, 1)
    with counted(catalog) as one:
        (view,) = pvc_views(catalog, few)
    assert view.charged_credits == 1000 and len(view.voices) == 1 and view.latest_retrain.decision == "kept"
    many = _completed_pvcs(catalog, 5)
    with counted(catalog) as six:
        views = pvc_views(catalog, many)
    assert len(views) == 6 and all(v.charged_credits == 1000 and len(v.voices) == 1 for v in views)
    assert len(six) == len(one) == 5


def test_listing_datasets_takes_one_query(settings):
    catalog = Catalog(settings)
    datasets = [catalog.create_dataset(f"d{i}") for i in range(4)]
    catalog.add_file(dataset_id=datasets[0].id, original_name="a.wav", sha256="0" * 64, size=1, status="pending")
    with counted(catalog) as statements:
        rows = dataset_rows(catalog, datasets)
    assert [r.files for r in rows] == [1, 0, 0, 0] and len(statements) == 1
