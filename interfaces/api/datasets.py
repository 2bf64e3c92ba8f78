"""`/datasets`: create, upload files, list, show, remove a file, prepare, a version's report and segments."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.ingest import store_uploads
from interfaces.api.runner import Runner
from interfaces.api.scope import account_datasets, owned_dataset
from interfaces.api.uploads import UPLOAD_OPENAPI, Limits, receive_files
from provoice.dataset.queries import (
    MAX_SEGMENTS_PER_PAGE,
    dataset_rows,
    dataset_view,
    file_views,
    segment_counts,
    segment_page,
)
from provoice.storage import Storage
from provoice.views import (
    DatasetFiles,
    DatasetReport,
    DatasetRow,
    DatasetView,
    PrepareStarted,
    RemovedFile,
    SegmentPage,
)

router = APIRouter(prefix="/datasets", tags=["datasets"])


class NewDataset(BaseModel):
    name: str = Field(min_length=1, max_length=200)


@router.post("", status_code=201)
def create_dataset(body: NewDataset, account: AccountId, catalog: CatalogDep) -> DatasetView:
    return dataset_view(catalog, catalog.create_dataset(body.name, account_id=account))


@router.get("")
def list_datasets(account: AccountId, catalog: CatalogDep) -> list[DatasetRow]:
    return dataset_rows(catalog, account_datasets(catalog, account))


@router.get("/{dataset_id}")
def show_dataset(dataset_id: str, account: AccountId, catalog: CatalogDep) -> DatasetView:
    return dataset_view(catalog, owned_dataset(catalog, dataset_id, account))


@router.post(
    "/{dataset_id}/files",
    status_code=201,
    openapi_extra=UPLOAD_OPENAPI,
    responses={
        413: {"description": "over the limit per file, per request or per account"},
        415: {"description": "every file is in an unsupported format"},
    },
)
async def upload_files(
    dataset_id: str,
    request: Request,
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    keep_unsupported: bool = False,
) -> DatasetFiles:
    """Add files (multipart, one `files` part each). Each comes back with its status: `pending`
    (ready for prepare) or `rejected` with a reason (unreadable, unsupported format, duplicate).

    A request whose every file is in an unsupported format is refused with 415 and stores nothing,
    unless `keep_unsupported` is set: then such files are listed in the dataset as `rejected` with
    their reason, as for a mixed upload (the Playground sends one file per request and shows every
    file in the dataset's table)."""
    await run_in_threadpool(owned_dataset, catalog, dataset_id, account)
    used = await run_in_threadpool(catalog.account_bytes, account)
    limits = Limits.for_dataset_files(settings, used)
    with tempfile.TemporaryDirectory(prefix="provoice-upload-") as tmp:
        uploads = await receive_files(request, Path(tmp), limits)
        files = await run_in_threadpool(store_uploads, catalog, settings, dataset_id, uploads, keep_unsupported)
    return DatasetFiles(id=dataset_id, files=file_views(files))


@router.delete("/{dataset_id}/files/{file_id}")
def remove_file(dataset_id: str, file_id: str, account: AccountId, catalog: CatalogDep) -> RemovedFile:
    owned_dataset(catalog, dataset_id, account)
    return RemovedFile(id=dataset_id, removed=catalog.remove_file(dataset_id, file_id).id)


@router.post("/{dataset_id}/prepare", status_code=202)
def prepare_dataset(dataset_id: str, account: AccountId, catalog: CatalogDep, request: Request) -> PrepareStarted:
    """Start preparing (convert, segment, transcribe, check, manifest) and answer at once; a worker
    runs it when a Prefect API is configured. `GET /datasets/{id}` shows `preparing` with its
    progress, then `latest_preparation`; cached per-file work is reused."""
    owned_dataset(catalog, dataset_id, account)
    runner: Runner = request.app.state.runner
    run_id = runner.start_prepare(dataset_id)
    return PrepareStarted(dataset_id=dataset_id, flow_run_id=run_id, status="queued" if run_id else "running")


@router.get("/{dataset_id}/versions/{version}/report", response_model_exclude_unset=True)
def dataset_report(
    dataset_id: str, version: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> DatasetReport:
    """The quality report of a prepared version: accepted speech against the minimum, rejections by
    reason, warnings and every file with its status."""
    owned_dataset(catalog, dataset_id, account)
    run = catalog.prepared_version(dataset_id, version)
    storage = Storage.from_settings(settings)
    report = storage.read_json(storage.key_of(run.report_uri))
    return DatasetReport.model_validate({k: v for k, v in report.items() if not k.endswith("_uri")})


@router.get("/{dataset_id}/versions/{version}/segments")
def dataset_segments(
    dataset_id: str,
    version: str,
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    limit: int = Query(100, ge=1, le=MAX_SEGMENTS_PER_PAGE),
    cursor: int | None = Query(None, ge=-1, description="the `next_cursor` of the page before; none: the first"),
    kept: bool | None = Query(None, description="only kept (true) or only rejected (false) segments"),
) -> SegmentPage:
    """Every segment of a prepared version with its transcript and decision, a page at a time, in
    a stable order, with the total matching the filter."""
    owned_dataset(catalog, dataset_id, account)
    run = catalog.prepared_version(dataset_id, version)
    counts = segment_counts(catalog, Storage.from_settings(settings), run)
    return segment_page(catalog, run, counts, limit=limit, cursor=cursor, kept=kept)
