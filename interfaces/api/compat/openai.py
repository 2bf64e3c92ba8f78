"""OpenAI-compatible speech under `/v1`: `OpenAI(base_url="http://HOST:PORT/v1", api_key=KEY)`.

`POST /v1/audio/speech` speaks with a ProVoice voice (its id as `voice`); `model` may be any of
OpenAI's names and never overrides the voice's own model. Formats are OpenAI's: 24 kHz mono, `pcm`
being raw 16-bit samples. The audio streams as it is made; `stream_format: "sse"` sends it as
`speech.audio.delta` events. `GET /v1/audio/voices` and `/v1/audio/models` answer what
self-hosted speech servers answer (Open WebUI asks for them, without a key for the voices: then
the list is empty, since voices belong to accounts).
"""

from __future__ import annotations

import base64
import time
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from interfaces.api.deps import AccountId, CatalogDep, OptionalAccountId, SettingsDep
from interfaces.api.errors import error_shape
from interfaces.api.speech import Chunk, event_stream, open_speech, streamed_response
from provoice.audio.output import MAX_SPEED, MIN_SPEED, AudioFormat, Container, Encoding
from provoice.pvc.service import account_voices, get_voice

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

OPENAI_RATE = 24000
MAX_INPUT_CHARS = 4096
#: The names OpenAI clients send; any is accepted, and the voice's own model speaks.
SPEECH_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
FORMATS: dict[str, AudioFormat] = {
    "mp3": AudioFormat(Container.MP3, sample_rate=OPENAI_RATE, bit_rate=128000),
    "opus": AudioFormat(Container.OPUS, sample_rate=OPENAI_RATE, bit_rate=64000),
    "aac": AudioFormat(Container.AAC, sample_rate=OPENAI_RATE, bit_rate=128000),
    "flac": AudioFormat(Container.FLAC, sample_rate=OPENAI_RATE),
    "wav": AudioFormat(Container.WAV, Encoding.PCM_S16LE, OPENAI_RATE),
    "pcm": AudioFormat(Container.RAW, Encoding.PCM_S16LE, OPENAI_RATE),
}
MEDIA_TYPES = {"pcm": "audio/pcm", "opus": "audio/opus"}

_ERROR_TYPES = {
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_quota"),
    404: ("invalid_request_error", "not_found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
}


def _openai_error(status: int, error: str, message: str) -> dict:
    kind, code = _ERROR_TYPES.get(status, ("invalid_request_error" if status < 500 else "server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code or _snake(error)}}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


error_shape("/v1/", _openai_error)


class OpenAIVoiceRef(BaseModel):
    id: str = Field(min_length=1, max_length=32)


class OpenAISpeechRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200, description="any of OpenAI's names; the voice's own model speaks")
    input: str = Field(min_length=1, max_length=MAX_INPUT_CHARS)
    voice: str | OpenAIVoiceRef = Field(description='a ProVoice voice id (`GET /v1/audio/voices`), or {"id": ...}')
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED)
    instructions: str | None = Field(
        None, max_length=4096, description="accepted and not used: a fine-tuned voice speaks as it was trained"
    )
    stream_format: Literal["audio", "sse"] = "audio"

    @property
    def voice_id(self) -> str:
        return self.voice if isinstance(self.voice, str) else self.voice.id


AUDIO = {
    media: {"schema": {"type": "string", "format": "binary"}}
    for media in ("audio/mpeg", "audio/opus", "audio/aac", "audio/flac", "audio/wav", "audio/pcm")
}


@router.post(
    "/audio/speech",
    response_class=Response,
    responses={
        200: {
            "content": {**AUDIO, "text/event-stream": {}},
            "description": "the audio as it is made (24 kHz mono), or SSE events",
        }
    },
)
async def create_speech(
    body: OpenAISpeechRequest, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    """Charged as `POST /tts` (1.5 credits a character), for the sentences delivered."""
    voice = await run_in_threadpool(get_voice, catalog, body.voice_id, account)
    fmt = FORMATS[body.response_format]
    speech = await open_speech(catalog, settings, voice, body.input, fmt, speed=body.speed, streamed=True)
    if body.stream_format == "sse":
        return event_stream(speech, _delta, lambda: [_done(body.input, speech.audio_s)])
    return streamed_response(speech, media_type=MEDIA_TYPES.get(body.response_format, fmt.media_type))


def _delta(chunk: Chunk) -> list[dict]:
    return [{"type": "speech.audio.delta", "audio": base64.b64encode(chunk.data).decode()}] if chunk.data else []


def _done(text: str, seconds: float) -> dict:
    """The closing event; "tokens" are characters in and audio frames (20 ms) out, as a usage figure."""
    out = round(seconds * 50)
    return {
        "type": "speech.audio.done",
        "usage": {"input_tokens": len(text), "output_tokens": out, "total_tokens": len(text) + out},
    }


class VoiceEntry(BaseModel):
    id: str
    name: str


class VoiceList(BaseModel):
    voices: list[VoiceEntry]


@router.get("/audio/voices")
def list_voices(catalog: CatalogDep, account: OptionalAccountId) -> VoiceList:
    """The caller's voices (empty without a key: voices belong to accounts)."""
    voices = account_voices(catalog, account) if account else []
    return VoiceList(voices=[VoiceEntry(id=v.id, name=v.name) for v in voices])


class ModelEntry(BaseModel):
    id: str


class ModelList(BaseModel):
    models: list[ModelEntry]


@router.get("/audio/models")
def list_speech_models() -> ModelList:
    """The model names OpenAI clients may send (each speaks with the voice's own model)."""
    return ModelList(models=[ModelEntry(id=name) for name in SPEECH_MODELS])


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class Models(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


STARTED = int(time.time())


@router.get("/models")
def list_models(account: AccountId, catalog: CatalogDep) -> Models:
    """OpenAI's speech model names, then the caller's fine-tuned models."""
    mine = sorted({v.model_id for v in account_voices(catalog, account)})
    return Models(
        data=[Model(id=name, created=STARTED, owned_by="provoice") for name in SPEECH_MODELS]
        + [Model(id=model_id, created=STARTED, owned_by=account) for model_id in mine]
    )
