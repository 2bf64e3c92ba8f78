"""Uploaded files into a dataset through the CLI's ingest path: `ingest_source`, then `register`.

How 415 works with several files: a request is refused with 415 (and nothing is stored) only when
every file in it is in an unsupported format. Otherwise each file is registered, and an unsupported
one is listed as `rejected` with its reason, exactly as `provoice dataset add` records it.
"""

from __future__ import annotations

from interfaces.api.errors import UnsupportedUpload
from interfaces.api.uploads import Upload
from provoice.audio.probe import probe
from provoice.catalog import Catalog, DatasetFile
from provoice.dataset.files import register
from provoice.dataset.ingest import ingest_source
from provoice.dataset.sources import Source
from provoice.errors import FileRejected, UnsupportedFormat
from provoice.settings import ACCEPTED_FORMATS, Settings


def unsupported_reason(upload: Upload) -> str | None:
    """The probe's message when the file's real format is not accepted; other problems are left to ingest."""
    try:
        probe(upload.path)
    except UnsupportedFormat as exc:
        return str(exc)
    except FileRejected:
        pass
    return None


def store_uploads(
    catalog: Catalog, settings: Settings, dataset_id: str, uploads: list[Upload], keep_unsupported: bool = False
) -> list[DatasetFile]:
    reasons = [unsupported_reason(u) for u in uploads]
    if all(reasons) and not keep_unsupported:
        detail = (
            f"{uploads[0].filename}: {reasons[0]}"
            if len(uploads) == 1
            else f"none of the {len(uploads)} files is in a supported format; accepted formats: "
            f"{', '.join(ACCEPTED_FORMATS)}"
        )
        raise UnsupportedUpload(detail, [{"name": u.filename, "reason": r} for u, r in zip(uploads, reasons)])
    files = [register(catalog, dataset_id, ingest_source(Source(str(u.path), u.filename), settings)) for u in uploads]
    _announce(dataset_id, [f.id for f in files])
    return files


def _announce(dataset_id: str, file_ids: list[str]) -> None:
    """The ingest flow's `provoice.dataset.files-uploaded` event, when a Prefect API is there to hear it."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        return
    from provoice.events import FILES_UPLOADED, STAGE_INGESTED, UPLOAD_STAGE
    from tasks.events import emit

    emit(FILES_UPLOADED, "dataset", dataset_id, {"file_ids": file_ids}, labels={UPLOAD_STAGE: STAGE_INGESTED})
