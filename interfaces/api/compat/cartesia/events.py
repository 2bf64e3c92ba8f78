"""Speech and its failures as Cartesia's stream events (`chunk`, `timestamps`, `done`, `error`), the
same over server-sent events and the WebSocket."""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import ValidationError

from interfaces.api.compat.cartesia.shapes import cartesia_error
from interfaces.api.errors import status_for
from interfaces.api.speech import Speech
from provoice.errors import ProVoiceError

log = logging.getLogger(__name__)

#: Audio per chunk event at most, so a frame stays far below the clients' 1 MiB message limit
#: (a multiple of 4: every encoding's samples stay whole).
PIECE_BYTES = 1 << 15


def chunk_events(data: bytes, words: Sequence[Any], context_id: str | None, step_ms: float, extra: dict) -> list[dict]:
    """A chunk's audio as `chunk` events of at most PIECE_BYTES, then its words as one `timestamps` event."""
    events = [
        {
            "type": "chunk",
            "data": base64.b64encode(data[at : at + PIECE_BYTES]).decode(),
            "done": False,
            "status_code": 206,
            "step_time": step_ms if at == 0 else 0.0,
            "context_id": context_id,
            **extra,
        }
        for at in range(0, len(data), PIECE_BYTES)
    ]
    if words:
        events.append(
            {
                "type": "timestamps",
                "done": False,
                "status_code": 206,
                "context_id": context_id,
                "word_timestamps": {
                    "words": [w.word for w in words],
                    "start": [w.start for w in words],
                    "end": [w.end for w in words],
                },
                **extra,
            }
        )
    return events


async def speech_events(speech: Speech, context_id: str | None, extra: dict | None = None) -> AsyncIterator[dict]:
    """Every chunk of `speech` as events; a chunk counts as sent once the consumer asks for what
    follows its last event, and the speech is settled (charged for what was sent) when this ends
    or is closed. Consume it inside `contextlib.aclosing`, so a consumer that stops settles at once."""
    clock = time.monotonic()
    try:
        async with contextlib.aclosing(speech.chunks()) as chunks:
            async for chunk in chunks:
                step_ms = round((time.monotonic() - clock) * 1000, 1)
                for event in chunk_events(chunk.data, chunk.words, context_id, step_ms, extra or {}):
                    yield event
                speech.sent(chunk)
                clock = time.monotonic()
    finally:
        speech.settle()


def done_event(context_id: str | None) -> dict:
    """The event that ends a stream, or a WebSocket context, that succeeded."""
    return {"type": "done", "done": True, "status_code": 200, "context_id": context_id}


def _described(exc: Exception) -> tuple[int, str, str]:
    """(HTTP status, error name, message) of a failure inside a stream, as a route would answer it."""
    if isinstance(exc, ProVoiceError):
        return status_for(exc), type(exc).__name__, str(exc)
    if isinstance(exc, ValidationError):
        found = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        return 422, "ValidationError", found or "invalid request"
    log.exception("Cartesia-compatible speech failed", exc_info=exc)
    return 500, "InternalError", "the speech could not be made (an internal error; see the server log)"


def error_event(exc: Exception, context_id: str | None) -> dict:
    """A failure as an `error` event of a stream or WebSocket."""
    status, error, message = _described(exc)
    return {
        "type": "error",
        "done": True,
        "status_code": status,
        **cartesia_error(status, error, message),
        "context_id": context_id,
    }
