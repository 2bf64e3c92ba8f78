"""Receiving multipart uploads straight to disk, one file per part, stopping at the size limits.

Starlette's form parser would spool every part in full before the endpoint could look at a size,
so an oversized upload is read to the end. Here the request stream is fed to python-multipart
chunk by chunk (off the event loop) and a part over the per-file limit, or a request over the
per-request or per-account limit, ends the request with 413 at once; only parts with a filename
are kept, other form fields are ignored.

An upload counts only when its framing is complete: the closing boundary arrived and the body has
exactly the bytes its Content-Length announced. A body cut short (a dropped connection, a lying
Content-Length) is refused, and nothing of it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from interfaces.api.errors import BadUpload, UploadTooLarge
from provoice.names import file_name

MAX_FILES = 100

# The request body as OpenAPI shows it (the endpoint reads the stream itself, so FastAPI cannot infer it).
UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            }
        },
    },
}


@dataclass(frozen=True)
class Limits:
    """Bytes a request may bring: per file, all files together, and what the account has room for."""

    per_file: int
    per_request: int
    account_room: int
    account_limit: int

    @classmethod
    def for_dataset_files(cls, settings, used_bytes: int) -> Limits:
        """A dataset upload's limits, on every route that adds dataset files: per file, per request,
        and the room left of the account's storage (`used_bytes` already stored)."""
        return cls(
            per_file=settings.max_upload_bytes,
            per_request=settings.max_request_upload_bytes,
            account_room=settings.max_account_bytes - used_bytes,
            account_limit=settings.max_account_bytes,
        )

    @classmethod
    def single(cls, max_bytes: int) -> Limits:
        """One file of at most `max_bytes` (a consent recording)."""
        return cls(max_bytes, max_bytes, max_bytes, max_bytes)


@dataclass
class Upload:
    filename: str
    path: Path
    size: int = 0


def human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{round(value, 1):g} {unit}"
        value /= 1024
    return f"{round(value, 1):g} GiB"


def safe_filename(raw: bytes) -> str:
    """The name a user gave the file, without any folders a client put in front of it."""
    name = PurePosixPath(raw.decode("utf-8", errors="replace").replace("\\", "/")).name
    return name or "upload"


class _Receiver:
    """python-multipart callbacks that write each file part to `folder/<n>`."""

    def __init__(self, folder: Path, limits: Limits):
        self.folder = folder
        self.limits = limits
        self.total = 0
        self.finished = False
        self.uploads: list[Upload] = []
        self._header = b""
        self._value = b""
        self._disposition = b""
        self._current: Upload | None = None
        self._out: BinaryIO | None = None

    def on_part_begin(self) -> None:
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header = self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"filename" not in options:
            self._current = None
            return
        if len(self.uploads) == MAX_FILES:
            raise BadUpload(f"too many files in one upload: at most {MAX_FILES}")
        self._current = Upload(file_name(safe_filename(options[b"filename"])), self.folder / str(len(self.uploads)))
        self.uploads.append(self._current)
        self._out = open(self._current.path, "wb")  # noqa: SIM115  # held across the parser's callbacks

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is None or self._out is None:
            return
        self._current.size += end - start
        self.total += end - start
        limits = self.limits
        if self._current.size > limits.per_file:
            raise UploadTooLarge(
                f"{self._current.filename} is larger than the upload limit of {human_bytes(limits.per_file)} per file"
            )
        if self.total > limits.per_request:
            raise UploadTooLarge(
                f"the files of this request pass the limit of {human_bytes(limits.per_request)} "
                "per request: send them in several requests"
            )
        if self.total > limits.account_room:
            raise UploadTooLarge(
                f"the account's stored audio would pass its limit of {human_bytes(limits.account_limit)}"
                f" ({human_bytes(max(0, limits.account_room))} left); remove files or datasets first"
            )
        self._out.write(data[start:end])

    def on_part_end(self) -> None:
        self.close()

    def on_end(self) -> None:
        self.finished = True

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


async def receive_files(request: Request, folder: Path, limits: Limits) -> list[Upload]:
    """Every file part of the request, written under `folder`; the caller owns and removes it."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise BadUpload("send the files as multipart/form-data, one `files` part per file")
    receiver = _Receiver(folder, limits)
    declared = request.headers.get("content-length")
    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": receiver.on_part_begin,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
            "on_end": receiver.on_end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            await run_in_threadpool(parser.write, chunk)
        parser.finalize()
    except ClientDisconnect:
        raise BadUpload(
            "the upload was cut off before it ended (the client disconnected); nothing was stored"
        ) from None
    except FormParserError as exc:
        raise BadUpload(f"malformed multipart body: {exc}") from exc
    finally:
        receiver.close()
    if declared is not None and declared.isdigit() and received != int(declared):
        raise BadUpload(f"the body has {received} bytes but Content-Length said {declared}; nothing was stored")
    if not receiver.finished:
        raise BadUpload("the multipart body ended before its closing boundary (a cut-off upload); nothing was stored")
    if not receiver.uploads:
        raise BadUpload("the upload has no files: send one `files` part per file")
    return receiver.uploads
