"""What users see of datasets: a listing reads one query whatever the row count."""

from provoice.catalog import Catalog
from provoice.dataset.queries import dataset_rows
from tests.query_count import counted


def test_listing_datasets_takes_one_query(settings):
    catalog = Catalog(settings)
    datasets = [catalog.create_dataset(f"d{i}") for i in range(4)]
    catalog.add_file(dataset_id=datasets[0].id, original_name="a.wav", sha256="0" * 64, size=1, status="pending")
    with counted(catalog) as statements:
        rows = dataset_rows(catalog, datasets)
    assert [r.files for r in rows] == [1, 0, 0, 0] and len(statements) == 1
