"""One place that turns typed domain errors into HTTP answers: `{"error": <type>, "detail": <message>}`,
or, under a compatible service's prefix, the error shape that service's clients read.

Every refusal that a retry cannot change answers `x-should-retry: false`, which the Stainless
clients (OpenAI, Cartesia) honour instead of retrying a 409 twice.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from provoice.consent import ConsentRefused, ConsentRequired
from provoice.errors import (
    AuthError,
    CsrfRefused,
    FileRejected,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidSource,
    NotFound,
    ProVoiceError,
    StorageFull,
    TransientError,
    UnsupportedFormat,
)
from provoice.extras import MissingExtra, missing_extra
from provoice.pvc.service import PvcRefused
from provoice.settings import ACCEPTED_FORMATS
from provoice.tts import EmptyText, ModelMismatch


class UploadTooLarge(ProVoiceError):
    """An uploaded file over `Settings.max_upload_bytes`; reading stopped at the limit."""


class BadUpload(InvalidSource):
    """A request body that is not a usable multipart upload (wrong content type, no files, too many)."""


class UnsupportedUpload(UnsupportedFormat):
    """Every file of an upload is in an unsupported format; `files` names each with its reason."""

    def __init__(self, message: str, files: list[dict]):
        super().__init__(message)
        self.files = files


STATUS: dict[type[Exception], int] = {
    NotFound: 404,
    AuthError: 401,
    CsrfRefused: 403,
    InsufficientCredits: 402,
    ConsentRequired: 403,
    ConsentRefused: 409,
    PvcRefused: 409,
    ModelMismatch: 409,
    IdempotencyConflict: 409,
    UploadTooLarge: 413,
    UnsupportedFormat: 415,
    InvalidSource: 422,
    FileRejected: 422,
    EmptyText: 422,
    MissingExtra: 501,
    StorageFull: 507,
    TransientError: 503,
}


class ErrorBody(BaseModel):
    """Every refusal: the error's type name and a message a user can act on."""

    error: str
    detail: str


#: Declared on every route, so `/openapi.json` shows the error body too.
ERROR_RESPONSES: dict[int | str, dict] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "the request cannot be carried out (the detail says why)"),
        (401, "missing or invalid API key"),
        (404, "no such id for this account"),
    )
}


def status_for(exc: ProVoiceError) -> int:
    """The most specific mapped class wins (walking the MRO); any other domain error is a 400."""
    return next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 400)


#: (HTTP status, error type name, message) -> the body a compatible service's clients read.
ErrorShape = Callable[[int, str, str], dict]
_SHAPES: dict[str, ErrorShape] = {}
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


def error_shape(prefix: str, shape: ErrorShape) -> None:
    """Answer errors of routes under `prefix` (e.g. "/v1/") in `shape`."""
    _SHAPES[prefix] = shape


def shape_for(path: str) -> ErrorShape | None:
    return next((shape for prefix, shape in _SHAPES.items() if path.startswith(prefix)), None)


def error_response(request: Request, status: int, error: str, message: str, extra: dict | None = None) -> JSONResponse:
    """An error in the shape the caller's service reads (ProVoice's own by default)."""
    shape = shape_for(request.url.path)
    body = shape(status, error, message) if shape else {"error": error, "detail": message, **(extra or {})}
    headers = {} if status in RETRYABLE else {"x-should-retry": "false"}
    return JSONResponse(body, status_code=status, headers=headers)


async def domain_error(request: Request, exc: ProVoiceError) -> JSONResponse:
    extra: dict = {}
    if isinstance(exc, UnsupportedFormat):
        extra["accepted_formats"] = list(ACCEPTED_FORMATS)
    if isinstance(exc, UnsupportedUpload):
        extra["files"] = exc.files
    return error_response(request, status_for(exc), type(exc).__name__, str(exc), extra)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The catalog database cannot be reached (stopped, restarting, a dropped connection): nothing of
    the request was committed, so the client may retry it (503, with `retry-after`)."""
    response = error_response(
        request,
        503,
        "DatabaseUnavailable",
        "the catalog database is unavailable; nothing was changed, retry in a few seconds",
    )
    response.headers["retry-after"] = "5"
    return response


async def missing_module(request: Request, exc: ModuleNotFoundError) -> JSONResponse:
    """A train-only package this serving install lacks answers 501 naming the extra; any other
    missing module is a bug, and stays a 500."""
    missing = missing_extra(exc)
    if missing is None:
        raise exc
    return await domain_error(request, missing)
