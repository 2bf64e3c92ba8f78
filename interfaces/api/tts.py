"""`POST /tts`: speech with one of the caller's voices, on the model that voice belongs to.

The balance is checked before synthesis (no compute for a request that cannot be paid) and the
characters are charged after it (no charge for audio that was never made). An `Idempotency-Key`
header makes a retried request charge once.
"""

from __future__ import annotations

import io
import wave
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from provoice.credits import require_balance, tts_cost
from provoice.pvc.tts import meter, voice_for_model
from provoice.tts import synthesize
from provoice.voice_models import load_for_inference

router = APIRouter(tags=["text-to-speech"])

MAX_TTS_CHARS = 5000


class TtsRequest(BaseModel):
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
                        402: {"description": "the balance does not cover 1.5 credits a character"},
                        409: {"description": "the voice belongs to another model (the message names it)"}})
def tts(body: TtsRequest, account: AccountId, catalog: CatalogDep, settings: SettingsDep,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> Response:
    voice = voice_for_model(catalog, account, body.voice_id, body.model_id)
    require_balance(catalog, account, tts_cost(body.text), purpose="this text")
    generator, meta = load_for_inference(settings, voice.model_id, settings.resolved_device())
    audio, rate = synthesize(generator, meta, body.text, np.asarray(voice.embedding, dtype=np.float32))
    meter(catalog, voice, body.text, request_id=idempotency_key and f"{account}:{idempotency_key}")
    return Response(wav_bytes(audio, rate), media_type="audio/wav")
