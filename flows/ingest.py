"""Ingest flow: add local files, directories or an `s3://` prefix to a dataset."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.run_names import ingest_run_name
from provoice.catalog import Catalog
from provoice.dataset.files import register
from provoice.dataset.queries import file_views
from provoice.dataset.sources import list_sources
from provoice.events import FILES_UPLOADED, STAGE_INGESTED, UPLOAD_STAGE
from provoice.settings import Settings
from provoice.views import DatasetFiles
from tasks.events import emit
from tasks.ingest import ingest_file


@flow(name="ingest-files", flow_run_name=ingest_run_name)
def ingest_files(dataset_id: str, sources: list[str]) -> DatasetFiles:
    """Copy every source into storage in parallel, then register them in order (dedup by sha256)."""
    settings = Settings()
    catalog = Catalog(settings)
    catalog.get_dataset(dataset_id)
    items = list_sources(sources, settings)
    futures = [ingest_file.with_options(task_run_name=f"ingest {s.display_name}").submit(s, settings) for s in items]
    added = []
    for src, fut in zip(items, futures):
        result = fut.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            get_run_logger().error("could not ingest %s: %s", src.display_name, result)
            raise result
        added.append(register(catalog, dataset_id, result))
    emit(
        FILES_UPLOADED,
        "dataset",
        dataset_id,
        {"file_ids": [f.id for f in added]},
        labels={UPLOAD_STAGE: STAGE_INGESTED},
    )
    return DatasetFiles(id=dataset_id, files=file_views(added))
