"""`POST /tts`: speech with one of the caller's voices, on the model that voice belongs to, in any
output format (`interfaces.api.speech` holds the money rules every speech route shares).

An `Idempotency-Key` binds the whole request (text, voice, model, format, speed): a repeat returns
the same audio without synthesising or charging again, and the key used with another request is
refused with 409 before any work. With `"stream": true` the audio comes sentence by sentence as
it is made.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep, websocket_account
from interfaces.api.speech import Recorder, Speech, open_speech, streamed_response, whole_response
from provoice import idempotency
from provoice.audio.output import MAX_SPEED, MIN_SPEED, AudioFormat, Container, Encoding
from provoice.pvc.tts import voice_for_model
from provoice.storage import Storage

router = APIRouter(tags=["text-to-speech"])

MAX_TTS_CHARS = 5000
ROUTE = "POST /tts"


class OutputFormat(BaseModel):
    """The audio's container, sample encoding (`wav` and `raw`), rate and bit rate (mp3, opus, aac)."""

    model_config = ConfigDict(extra="forbid")

    container: Container = Container.WAV
    encoding: Encoding = Field(Encoding.PCM_S16LE, description="for `wav` and `raw`")
    sample_rate: int | None = Field(None, ge=8000, le=48000, description="default: the model's own (22,050 Hz)")
    bit_rate: int | None = Field(None, ge=6000, le=320000, description="bit/s, for mp3, opus and aac")

    def audio_format(self) -> AudioFormat:
        return AudioFormat(self.container, self.encoding, self.sample_rate, self.bit_rate)


class TtsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: str = Field(min_length=1, max_length=200, description="the model the voice belongs to")
    voice_id: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=MAX_TTS_CHARS)
    output_format: OutputFormat = Field(
        default_factory=OutputFormat, description="default: 16-bit mono WAV at the model's rate"
    )
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED, description="speaking rate; 2 is twice as fast")
    stream: bool = Field(
        default=False,
        description="send the audio sentence by sentence as it is made (a WAV "
        "has a streaming header with unknown sizes); charged for the sentences sent",
    )


AUDIO_CONTENT = {
    media: {"schema": {"type": "string", "format": "binary"}}
    for media in ("audio/wav", "audio/mpeg", "audio/ogg", "audio/aac", "audio/flac", "application/octet-stream")
}


@router.post(
    "/tts",
    response_class=Response,
    responses={
        200: {"content": AUDIO_CONTENT, "description": "the speech in the asked format"},
        402: {"description": "the available balance does not cover 1.5 credits a character"},
        409: {"description": "the voice belongs to another model, or the Idempotency-Key was used for another request"},
    },
)
def tts(
    body: TtsRequest,
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=idempotency.MAX_KEY_CHARS)] = None,
) -> Response:
    voice = voice_for_model(catalog, account, body.voice_id, body.model_id)
    fmt = body.output_format.audio_format()
    storage = Storage.from_settings(settings)
    if idempotency_key is not None:
        digest = idempotency.request_hash(account, ROUTE, body.model_dump(mode="json"))
        done = idempotency.begin(catalog, account, idempotency_key, digest)
        if done is not None:
            return Response(storage.read_bytes(done.result_key), media_type=done.media_type)
    recorder = Recorder(catalog, storage, account, idempotency_key)
    request_id = f"{account}:{idempotency_key}" if idempotency_key else None
    try:
        speech = Speech(
            catalog, settings, voice, body.text, fmt, speed=body.speed, streamed=body.stream, request_id=request_id
        )
        if body.stream:
            return streamed_response(speech, recorder)
        return whole_response(speech, recorder)
    except BaseException:
        recorder.abandon()
        raise


@router.websocket("/tts/ws")
async def tts_websocket(websocket: WebSocket) -> None:
    """Streaming speech over a WebSocket, for clients that keep a connection open: send one JSON
    message `{"model_id", "voice_id", "text", "output_format"?, "speed"?}` (the key in a header, as
    on every route, or `?api_key=`; the format defaults to raw 16-bit PCM), receive the audio's
    description (`{"format", "sample_rate", "channels", ...}`), then per sentence a binary message
    of audio and `{"sentence"}`, then
    `{"done": true, "charged_credits"}`. A refusal is `{"error", "detail"}` and the socket closes
    with 4000 + the HTTP status the same refusal gets from `POST /tts`."""
    from interfaces.api.errors import status_for
    from provoice.errors import ProVoiceError

    await websocket.accept()
    settings, catalog = websocket.app.state.settings, websocket.app.state.catalog
    try:
        account = await websocket_account(websocket)
        try:
            body = TtsRequest.model_validate(await websocket.receive_json())
        except (ValueError, ValidationError) as exc:
            await websocket.send_json({"error": "InvalidRequest", "detail": str(exc)})
            await websocket.close(code=4422)
            return
        voice = await run_in_threadpool(voice_for_model, catalog, account, body.voice_id, body.model_id)
        fmt = (
            body.output_format.audio_format()
            if "output_format" in body.model_fields_set
            else AudioFormat(Container.RAW)
        )  # a message per sentence: raw 16-bit PCM unless asked
        speech = await open_speech(catalog, settings, voice, body.text, fmt, speed=body.speed, streamed=True)
        try:
            shown = speech.describe()
            await websocket.send_json({"format": shown.get("encoding", shown["container"]), **shown})
            async for chunk in speech.chunks():
                if chunk.data:
                    await websocket.send_bytes(chunk.data)
                speech.sent(chunk)
                if chunk.sentence:
                    await websocket.send_json({"sentence": chunk.sentence})
        finally:
            speech.settle()
        await websocket.send_json({"done": True, "charged_credits": float(speech.metered.charged or 0)})
    except WebSocketDisconnect:
        return
    except ProVoiceError as exc:
        await websocket.send_json({"error": type(exc).__name__, "detail": str(exc)})
        await websocket.close(code=4000 + status_for(exc))
        return
    await websocket.close()
