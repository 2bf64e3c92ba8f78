"""`POST /tts`: speech with one of the caller's voices, on the model that voice belongs to.

The text's cost is held before synthesis (no compute for a request that cannot be paid) and
charged after it (no charge for audio that was never made). An `Idempotency-Key` binds the whole
request: a repeat returns the same audio without synthesising or charging again, and the key used
with another text (or voice, or model) is refused with 409 before any work.
"""

from __future__ import annotations

import hashlib
import io
import wave
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from provoice import idempotency
from provoice.pvc.tts import meter, voice_for_model
from provoice.storage import Storage
from provoice.tts import synthesize
from provoice.voice_models import load_for_inference

router = APIRouter(tags=["text-to-speech"])

MAX_TTS_CHARS = 5000
ROUTE = "POST /tts"


class TtsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: str = Field(min_length=1, max_length=200, description="the model the voice belongs to")
    voice_id: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=MAX_TTS_CHARS)


def wav_bytes(audio: np.ndarray, rate: int) -> bytes:
    """Mono 16-bit PCM WAV, as `provoice tts` writes it."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())
    return buf.getvalue()


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
    try:
        metered = meter(catalog, voice, body.text, request_id)
        try:
            generator, meta = load_for_inference(settings, voice.model_id, settings.resolved_device())
            audio, rate = synthesize(generator, meta, body.text, np.asarray(voice.embedding, dtype=np.float32))
            data = wav_bytes(audio, rate)
        except BaseException:
            metered.release()
            raise
        metered.charge()
        if idempotency_key is not None:
            key = f"requests/{hashlib.sha256(idempotency.record_key(account, idempotency_key).encode()).hexdigest()}.wav"
            storage.write_bytes(key, data)
            idempotency.complete(catalog, account, idempotency_key, key, "audio/wav")
    except BaseException:
        if idempotency_key is not None:
            idempotency.abandon(catalog, account, idempotency_key)
        raise
    return Response(data, media_type="audio/wav")
