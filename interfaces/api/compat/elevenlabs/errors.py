"""ElevenLabs' error shape, `{"detail": {"status", "message"}}`, for every route under `/elevenlabs/`
(registered on import), and the refusals this API adds to ProVoice's own.

The Fern client retries 408, 409, 429 and 5xx whatever the headers say, so refusals a retry cannot
change are answered 400 here, not 409.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from interfaces.api.errors import error_shape
from provoice.errors import ProVoiceError

PREFIX = "/elevenlabs"


class ErrorDetail(BaseModel):
    status: str = Field(description="what went wrong, as a code (invalid_api_key, not_found, quota_exceeded, ...)")
    message: str


class ElevenLabsError(BaseModel):
    """Every refusal, as ElevenLabs' clients read it."""

    detail: ErrorDetail


#: ProVoice error types whose ElevenLabs code is not their own name in snake case.
CODES = {"AuthError": "invalid_api_key", "InsufficientCredits": "quota_exceeded"}


def error_body(status: int, error: str, message: str) -> dict:
    """ProVoice's refusal in ElevenLabs' shape (the HTTP status stays ProVoice's)."""
    code = CODES.get(error) or re.sub(r"(?<!^)(?=[A-Z])", "_", error).lower()
    return {"detail": {"status": code, "message": message}}


error_shape(f"{PREFIX}/", error_body)


class VoiceNotReady(ProVoiceError):
    """A professional voice asked to speak before its fine-tuning made a voice."""


class SamplesNotReady(ProVoiceError):
    """A captcha recording sent before the samples were prepared (it is compared with their voice)."""


class Refused(ProVoiceError):
    """A refusal that a retry cannot change, answered 400 rather than 409 so Fern does not retry it."""


class NotSupported(ProVoiceError):
    """An ElevenLabs call with no ProVoice counterpart; the message says what to use instead."""


#: Declared on every ElevenLabs route, so `/openapi.json` shows the error body.
ERRORS: dict[int | str, dict] = {
    code: {"model": ElevenLabsError, "description": text}
    for code, text in (
        (400, "refused: the message says why and what to do"),
        (401, "missing or invalid API key"),
        (402, "the available credits do not cover the request"),
        (404, "no such voice for this account"),
        (422, "invalid request"),
    )
}
