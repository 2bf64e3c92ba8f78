"""Cartesia's status route and its HTTP speech: the audio as bytes, or as server-sent events."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from interfaces.api.compat.cartesia.events import done_event, error_event, speech_events
from interfaces.api.compat.cartesia.speech_requests import BytesRequest, SseRequest
from interfaces.api.compat.cartesia.voices import spoken_voice
from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.speech import ClosingStreamingResponse, Speech, open_speech, streamed_response
from interfaces.api.tts import AUDIO_CONTENT

API_VERSION = "2026-08-14"
router = APIRouter()


class Status(BaseModel):
    ok: bool
    version: str = Field(description="the Cartesia API version answered")


@router.get("", include_in_schema=False)
@router.get("/")
def api_status() -> Status:
    """`client.get_status()`: the API is up."""
    return Status(ok=True, version=API_VERSION)


@router.post(
    "/tts/bytes",
    response_class=Response,
    responses={
        200: {"content": AUDIO_CONTENT, "description": "the speech, sent as it is made"},
        402: {"description": "the available balance does not cover 1.5 credits a character"},
    },
)
async def tts_bytes(body: BytesRequest, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> Response:
    """`tts.generate` (and the older `tts.bytes`): the audio in the asked format, sentence by sentence
    as it is made; charged for the sentences sent."""
    voice = await run_in_threadpool(spoken_voice, catalog, account, body)
    speech = await open_speech(
        catalog, settings, voice, body.transcript, body.output_format.audio_format(), speed=body.rate, streamed=True
    )
    return streamed_response(speech)


@router.post(
    "/tts/sse",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "`chunk` events (base64 audio), `timestamps` when asked, then `done`",
        }
    },
)
async def tts_sse(body: SseRequest, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> Response:
    """`tts.generate_sse`: `data:` events `chunk`, `timestamps` (with `add_timestamps`), then `done`;
    a failure once the stream has started is an `error` event."""
    voice = await run_in_threadpool(spoken_voice, catalog, account, body)
    speech = await open_speech(
        catalog,
        settings,
        voice,
        body.transcript,
        body.output_format.audio_format(),
        speed=body.rate,
        streamed=True,
        timed=body.add_timestamps,
    )
    return ClosingStreamingResponse(
        _sse_body(speech, body.context_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _sse_body(speech: Speech, context_id: str | None) -> AsyncIterator[bytes]:
    try:
        async with contextlib.aclosing(speech_events(speech, context_id)) as events:
            async for event in events:
                yield _sse(event)
    except Exception as exc:
        yield _sse(error_event(exc, context_id))
        return
    yield _sse(done_event(context_id))


def _sse(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()
