"""What users see of PVCs: a listing reads a bounded number of queries whatever the row count."""

import pytest

from provoice.accounts import default_account
from provoice.catalog import Catalog, Voice
from provoice.catalog.models import utcnow
from provoice.credits import debit, grant
from provoice.pvc.queries import pvc_views
from provoice.pvc.retrain import record
from provoice.pvc.service import create_pvc, list_pvcs
from provoice.pvc.status import PvcStatus
from provoice.settings import Settings
from tests.pvc_states import set_status
from tests.query_count import counted

pytestmark = pytest.mark.both_databases


def _completed_pvcs(catalog: Catalog, n: int) -> list:
    account = default_account(catalog).id
    grant(catalog, account, 10_000_000)
    ds = catalog.create_dataset("d")
    for i in range(n):
        pvc = create_pvc(catalog, account, ds.id, f"p{i}", "base", settings=Settings())
        pvc = set_status(catalog, pvc.id, PvcStatus.COMPLETED, model_id=f"base/{pvc.id}")
        with catalog.session() as s:
            s.add(
                Voice(
                    account_id=account,
                    pvc_id=pvc.id,
                    model_id=f"base/{pvc.id}",
                    name=f"v{i}",
                    source_file_id="f",
                    clip_uri="x",
                    clip_start=0.0,
                    clip_end=1.0,
                    embedding=[0.0],
                )
            )
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
