"""`POST /tts`: speech with one of the caller's voices, on the model that voice belongs to.

The text's cost is held before synthesis (no compute for a request that cannot be paid) and
charged after it (no charge for audio that was never made). An `Idempotency-Key` binds the whole
request: a repeat returns the same audio without synthesising or charging again, and the key used
with another text (or voice, or model) is refused with 409 before any work.

With `"stream": true` the audio comes sentence by sentence as it is made (`interfaces.api.tts_stream`).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Header, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from interfaces.api.deps import API_KEY_HEADER, AccountId, CatalogDep, SettingsDep
from provoice import idempotency
from provoice.audio.wavio import wav_bytes
from provoice.pvc.tts import meter, voice_for_model
from provoice.storage import Storage
from provoice.voice_models import load_synthesizer

router = APIRouter(tags=["text-to-speech"])

MAX_TTS_CHARS = 5000
ROUTE = "POST /tts"


class TtsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: str = Field(min_length=1, max_length=200, description="the model the voice belongs to")
    voice_id: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=MAX_TTS_CHARS)
    stream: bool = Field(default=False, description="send the audio sentence by sentence as it is made: a WAV "
                         "with a streaming header (sizes unknown), 16-bit mono PCM; charged for the sentences sent")


@router.post("/tts", response_class=Response,
             responses={200: {"content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
                              "description": "the speech as a WAV file"},
                        402: {"description": "the available balance does not cover 1.5 credits a character"},
                        409: {"description": "the voice belongs to another model, or the Idempotency-Key was "
                                             "used for another request"}})
def tts(body: TtsRequest, account: AccountId, catalog: CatalogDep, settings: SettingsDep,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=idempotency.MAX_KEY_CHARS)] = None
        ) -> Response:
    voice = voice_for_model(catalog, account, body.voice_id, body.model_id)
    storage = Storage.from_settings(settings)
    if idempotency_key is not None:
        digest = idempotency.request_hash(account, ROUTE, body.model_dump())
        done = idempotency.begin(catalog, account, idempotency_key, digest)
        if done is not None:
            return Response(storage.read_bytes(done.result_key), media_type=done.media_type)
    request_id = f"{account}:{idempotency_key}" if idempotency_key else None
    embedding = np.asarray(voice.embedding, dtype=np.float32)
    try:
        metered = meter(catalog, voice, body.text, request_id)
        try:
            synth = load_synthesizer(settings, voice.model_id)
            if body.stream:
                from interfaces.api.tts_stream import stream_speech

                return stream_speech(synth, body.text, embedding, metered,
                                     Recorder(catalog, storage, account, idempotency_key))
            audio, rate = synth.synthesize(body.text, embedding)
            data = wav_bytes(audio, rate)
        except BaseException:
            metered.release()
            raise
        metered.charge()
        Recorder(catalog, storage, account, idempotency_key).complete(data)
    except BaseException:
        if idempotency_key is not None:
            idempotency.abandon(catalog, account, idempotency_key)
        raise
    return Response(data, media_type="audio/wav")


class Recorder:
    """Keeps a finished response under its Idempotency-Key (if the request had one), or gives the
    key up when the response was not finished, so a repeat is answered from storage or redone."""

    def __init__(self, catalog, storage: Storage, account: str, idempotency_key: str | None):
        self.catalog, self.storage, self.account, self.key = catalog, storage, account, idempotency_key

    @property
    def keeps(self) -> bool:
        """Whether a finished response is stored (the request came with a key)."""
        return self.key is not None

    def complete(self, data: bytes) -> None:
        if not self.keeps:
            return
        digest = hashlib.sha256(idempotency.record_key(self.account, self.key).encode()).hexdigest()
        self.storage.write_bytes(f"requests/{digest}.wav", data)
        idempotency.complete(self.catalog, self.account, self.key, f"requests/{digest}.wav", "audio/wav")

    def abandon(self) -> None:
        if self.key is not None:
            idempotency.abandon(self.catalog, self.account, self.key)


@router.websocket("/tts/ws")
async def tts_websocket(websocket: WebSocket) -> None:
    """Streaming speech over a WebSocket, for clients that keep a connection open: send one JSON
    message `{"model_id", "voice_id", "text"}` (the key in the `X-API-Key` header), receive
    `{"format", "sample_rate", "channels"}`, then per sentence a binary message of 16-bit PCM and
    `{"sentence"}`, then `{"done": true, "charged_credits"}`. A refusal is `{"error", "detail"}`
    and the socket closes with 4000 + the HTTP status the same refusal gets from `POST /tts`."""
    from interfaces.api.errors import status_for
    from interfaces.api.tts_stream import speak_over_websocket
    from provoice.accounts import account_for_key
    from provoice.errors import AuthError, ProVoiceError

    await websocket.accept()
    settings, catalog = websocket.app.state.settings, websocket.app.state.catalog
    try:
        key = websocket.headers.get(API_KEY_HEADER)
        if not key:
            raise AuthError(f"missing API key: send it in the {API_KEY_HEADER} header")
        account = (await run_in_threadpool(account_for_key, catalog, key)).id
        try:
            body = TtsRequest.model_validate(await websocket.receive_json())
        except (ValueError, ValidationError) as exc:
            await websocket.send_json({"error": "InvalidRequest", "detail": str(exc)})
            await websocket.close(code=4422)
            return
        voice = await run_in_threadpool(voice_for_model, catalog, account, body.voice_id, body.model_id)
        metered = await run_in_threadpool(meter, catalog, voice, body.text)
        try:
            synth = await run_in_threadpool(load_synthesizer, settings, voice.model_id)
        except BaseException:
            metered.release()
            raise
        await speak_over_websocket(websocket, synth, body.text, np.asarray(voice.embedding, dtype=np.float32), metered)
    except WebSocketDisconnect:
        return
    except ProVoiceError as exc:
        await websocket.send_json({"error": type(exc).__name__, "detail": str(exc)})
        await websocket.close(code=4000 + status_for(exc))
        return
    await websocket.close()
