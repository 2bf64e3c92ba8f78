"""Cartesia's datasets and their files: ProVoice's own datasets, uploaded with the native limits."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from interfaces.api.compat.cartesia.routing import slash_optional
from interfaces.api.compat.cartesia.shapes import Cursor, Deleted, Limit, Page, paged
from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.ingest import store_uploads
from interfaces.api.scope import account_datasets, owned_dataset
from interfaces.api.uploads import Limits, receive_files
from provoice.catalog import Dataset, DatasetFile
from provoice.pvc.service import delete_dataset

router = APIRouter()


class CartesiaNewDataset(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)


class DatasetChange(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)


class CartesiaDataset(BaseModel):
    id: str
    name: str
    description: str
    created_at: str


class CartesiaFile(BaseModel):
    """A dataset file; `status` and `reason` are ProVoice's (pending, accepted or rejected, and why)."""

    id: str
    filename: str
    size: int
    created_at: str
    status: str
    reason: str | None


class UploadedFiles(BaseModel):
    data: list[CartesiaFile]


def _dataset(ds: Dataset) -> CartesiaDataset:
    return CartesiaDataset(
        id=ds.id, name=ds.name, description=ds.description or "", created_at=ds.created_at.isoformat()
    )


def _files(files: list[DatasetFile]) -> list[CartesiaFile]:
    return [
        CartesiaFile(
            id=f.id,
            filename=f.original_name,
            size=f.size,
            created_at=f.created_at.isoformat(),
            status=f.status,
            reason=f.reason,
        )
        for f in files
    ]


@slash_optional(router, "post", "/datasets", status_code=201)
def create_dataset(body: CartesiaNewDataset, account: AccountId, catalog: CatalogDep) -> CartesiaDataset:
    """`datasets.create`."""
    return _dataset(catalog.create_dataset(body.name, account_id=account, description=body.description))


@slash_optional(router, "get", "/datasets")
def list_datasets(
    account: AccountId,
    catalog: CatalogDep,
    limit: Limit = 10,
    starting_after: Cursor = None,
    ending_before: Cursor = None,
) -> Page[CartesiaDataset]:
    """`datasets.list`: oldest first, a page at a time."""
    rows = account_datasets(catalog, account)
    return Page[CartesiaDataset](
        **paged(rows, lambda page: [_dataset(d) for d in page], limit, starting_after, ending_before, "dataset")
    )


@router.get("/datasets/{dataset_id}")
def show_dataset(dataset_id: str, account: AccountId, catalog: CatalogDep) -> CartesiaDataset:
    """`datasets.retrieve`."""
    return _dataset(owned_dataset(catalog, dataset_id, account))


@router.patch("/datasets/{dataset_id}")
def change_dataset(dataset_id: str, body: DatasetChange, account: AccountId, catalog: CatalogDep) -> CartesiaDataset:
    """`datasets.update`: a new name or description (a field left out stays)."""
    owned_dataset(catalog, dataset_id, account)
    return _dataset(catalog.update_dataset(dataset_id, name=body.name, description=body.description))


@router.delete(
    "/datasets/{dataset_id}",
    responses={409: {"description": "a PVC was made from the dataset, or it is being prepared"}},
)
def remove_dataset(dataset_id: str, account: AccountId, catalog: CatalogDep) -> Deleted:
    """`datasets.delete`: only a dataset no fine-tune was made from (its files are that PVC's
    training data and consent evidence); refused with 409 naming the PVC otherwise."""
    return Deleted(id=delete_dataset(catalog, dataset_id, account).id)


#: The upload's body as OpenAPI shows it (the route reads the stream itself, so FastAPI cannot infer it).
FILE_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}, "purpose": {"type": "string"}},
                }
            }
        },
    }
}


@router.post(
    "/datasets/{dataset_id}/files",
    status_code=201,
    openapi_extra=FILE_UPLOAD,
    responses={
        413: {"description": "over the limit per file, per request or per account"},
        415: {"description": "the file is in an unsupported format"},
    },
)
async def upload_file(
    dataset_id: str, request: Request, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> UploadedFiles:
    """`datasets.files.upload`: multipart `file` (and `purpose`, which is ignored), with the limits of
    `POST /datasets/{id}/files`; each file comes back with its status."""
    await run_in_threadpool(owned_dataset, catalog, dataset_id, account)
    used = await run_in_threadpool(catalog.account_bytes, account)
    limits = Limits.for_dataset_files(settings, used)
    with tempfile.TemporaryDirectory(prefix="provoice-upload-") as tmp:
        uploads = await receive_files(request, Path(tmp), limits)
        files = await run_in_threadpool(store_uploads, catalog, settings, dataset_id, uploads)
    return UploadedFiles(data=_files(files))


@router.get("/datasets/{dataset_id}/files")
def list_files(
    dataset_id: str,
    account: AccountId,
    catalog: CatalogDep,
    limit: Limit = 10,
    starting_after: Cursor = None,
    ending_before: Cursor = None,
) -> Page[CartesiaFile]:
    """`datasets.files.list`: in upload order, a page at a time."""
    owned_dataset(catalog, dataset_id, account)
    return Page[CartesiaFile](**paged(catalog.files(dataset_id), _files, limit, starting_after, ending_before, "file"))


@router.delete("/datasets/{dataset_id}/files/{file_id}")
def remove_file(dataset_id: str, file_id: str, account: AccountId, catalog: CatalogDep) -> Deleted:
    """`datasets.files.delete`."""
    owned_dataset(catalog, dataset_id, account)
    return Deleted(id=catalog.remove_file(dataset_id, file_id).id)
