"""`/datasets`: create, upload files, list, show, remove a file, prepare."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.ingest import store_uploads
from interfaces.api.scope import account_datasets, owned_dataset
from interfaces.api.uploads import UPLOAD_OPENAPI, receive_files
from provoice.views import DatasetFiles, DatasetRow, DatasetView, PrepareSummary, RemovedFile, dataset_rows, dataset_view, file_views

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


@router.post("/{dataset_id}/files", status_code=201, openapi_extra=UPLOAD_OPENAPI,
             responses={413: {"description": "a file is over the upload limit"},
                        415: {"description": "every file is in an unsupported format"}})
async def upload_files(dataset_id: str, request: Request, account: AccountId, catalog: CatalogDep,
                       settings: SettingsDep) -> DatasetFiles:
    """Add files (multipart, one `files` part each). Each comes back with its status: `pending`
    (ready for prepare) or `rejected` with a reason (unreadable, unsupported format, duplicate)."""
    await run_in_threadpool(owned_dataset, catalog, dataset_id, account)
    with tempfile.TemporaryDirectory(prefix="provoice-upload-") as tmp:
        uploads = await receive_files(request, Path(tmp), settings.max_upload_bytes)
        files = await run_in_threadpool(store_uploads, catalog, settings, dataset_id, uploads)
    return DatasetFiles(id=dataset_id, files=file_views(files))


@router.delete("/{dataset_id}/files/{file_id}")
def remove_file(dataset_id: str, file_id: str, account: AccountId, catalog: CatalogDep) -> RemovedFile:
    owned_dataset(catalog, dataset_id, account)
    return RemovedFile(id=dataset_id, removed=catalog.remove_file(dataset_id, file_id).id)


@router.post("/{dataset_id}/prepare")
def prepare_dataset(dataset_id: str, account: AccountId, catalog: CatalogDep) -> PrepareSummary:
    """Run the preparation flow to the end and return its summary. The request waits for it (in a
    worker thread), which can take minutes for a large dataset; cached per-file work is reused."""
    from flows.prepare import prepare_dataset as prepare_flow

    owned_dataset(catalog, dataset_id, account)
    return prepare_flow(dataset_id)
