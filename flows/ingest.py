"""Ingest flow: add local files, directories or an `s3://` prefix to a dataset."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.events import emit
from provoice.events import FILES_UPLOADED, STAGE_INGESTED, UPLOAD_STAGE
from provoice.catalog import Catalog
from provoice.dataset.files import register
from provoice.dataset.sources import list_sources
from provoice.settings import Settings
from tasks.ingest import ingest_file


@flow(name="ingest-files")
def ingest_files(dataset_id: str, sources: list[str]) -> list[dict]:
    """Copy every source into storage in parallel, then register them in order (dedup by sha256)."""
    settings = Settings()
    catalog = Catalog(settings)
    catalog.get_dataset(dataset_id)
    items = list_sources(sources, settings)
    futures = [ingest_file.with_options(task_run_name=f"ingest {s.display_name}").submit(s, settings)
               for s in items]
    added = []
    for src, fut in zip(items, futures):
        result = fut.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            get_run_logger().error("could not ingest %s: %s", src.display_name, result)
            raise result
        f = register(catalog, dataset_id, result)
        added.append({"id": f.id, "name": f.original_name, "status": f.status, "reason": f.reason,
                      "format": f.format, "sha256": f.sha256, "size": f.size})
    emit(FILES_UPLOADED, "dataset", dataset_id, {"file_ids": [a["id"] for a in added]},
         labels={UPLOAD_STAGE: STAGE_INGESTED})
    return added
