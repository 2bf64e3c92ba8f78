"""The bodies of Cartesia's speech requests (bytes, server-sent events and WebSocket messages), read
into what ProVoice's speech takes: a voice id, an audio format and a speaking rate."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from interfaces.api.tts import MAX_TTS_CHARS
from provoice.audio.output import AudioFormat, Container, Encoding
from provoice.errors import InvalidSource

#: Cartesia's `speed` words as speaking rates (1 is the voice's own; `generation_config.speed` wins).
SPEEDS = {"slow": 0.8, "normal": 1.0, "fast": 1.25}


class CartesiaVoiceRef(BaseModel):
    """`{"id": ...}`, or the older `{"mode": "id", "id": ...}`."""

    model_config = ConfigDict(extra="allow")

    mode: str | None = None
    id: str | None = Field(None, max_length=32)


class CartesiaOutputFormat(BaseModel):
    """Cartesia's `raw`, `wav` (pcm_s16le, pcm_f32le, pcm_mulaw, pcm_alaw) and `mp3`; ProVoice's
    `opus`, `aac` and `flac` too. Without a rate, the voice's own."""

    model_config = ConfigDict(extra="ignore")

    container: Container
    encoding: Encoding = Encoding.PCM_S16LE
    sample_rate: int | None = None
    bit_rate: int | None = None

    def audio_format(self) -> AudioFormat:
        if self.container in (Container.RAW, Container.WAV):
            return AudioFormat(self.container, self.encoding, self.sample_rate)
        return AudioFormat(self.container, sample_rate=self.sample_rate, bit_rate=self.bit_rate)


class GenerationConfig(BaseModel):
    """Only `speed` changes ProVoice's speech; `volume` and `emotion` are accepted and have no effect."""

    model_config = ConfigDict(extra="ignore")

    speed: float | None = Field(None, ge=0.6, le=1.5)
    volume: float | None = Field(None, ge=0.5, le=2.0)
    emotion: str | None = None


class SpeechFields(BaseModel):
    """What every Cartesia speech request carries."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model_id: str = Field("", max_length=200, description="read and ignored: a voice speaks with its own model")
    voice: str | CartesiaVoiceRef | None = Field(
        None, description='a ProVoice voice id: "id", {"id"} or {"mode": "id", "id"}'
    )
    language: str | None = Field(None, max_length=16, description="must be the voice's language when given")
    locale: str | None = Field(None, max_length=16)
    generation_config: GenerationConfig | None = None
    speed: Literal["slow", "normal", "fast"] | None = None
    pronunciation_dict_id: str | None = None
    add_phoneme_timestamps: bool | None = None

    @model_validator(mode="after")
    def _supported(self):
        if self.pronunciation_dict_id:
            raise ValueError("pronunciation dictionaries are not supported by ProVoice")
        if self.add_phoneme_timestamps:
            raise ValueError("phoneme timestamps are not supported; word timestamps are (add_timestamps)")
        return self

    @property
    def rate(self) -> float:
        """The speaking rate: `generation_config.speed`, else the `speed` word, else 1."""
        if self.generation_config is not None and self.generation_config.speed is not None:
            return self.generation_config.speed
        return SPEEDS[self.speed or "normal"]

    @property
    def voice_id(self) -> str:
        voice = self.voice
        if isinstance(voice, str) and voice:
            return voice
        if isinstance(voice, CartesiaVoiceRef) and voice.mode in (None, "id") and voice.id:
            return voice.id
        raise InvalidSource('give the voice by its id: "voice": "ID" or {"id": "ID"} (embeddings are not accepted)')


class BytesRequest(SpeechFields):
    transcript: str = Field(max_length=MAX_TTS_CHARS)
    output_format: CartesiaOutputFormat
    save: bool | None = None

    @model_validator(mode="after")
    def _not_saved(self):
        if self.save:
            raise ValueError("ProVoice does not keep generated audio: leave `save` out")
        return self


class SseRequest(SpeechFields):
    transcript: str = Field(max_length=MAX_TTS_CHARS)
    output_format: CartesiaOutputFormat
    context_id: str | None = Field(None, max_length=200)
    add_timestamps: bool = False


SOCKET_DEFAULT_FORMAT = CartesiaOutputFormat(container=Container.RAW, encoding=Encoding.PCM_F32LE, sample_rate=44100)


class SocketRequest(SpeechFields):
    """One message of a WebSocket context; a context's voice, format, speed and timestamps come from
    its first message."""

    context_id: str = Field(min_length=1, max_length=200)
    transcript: str = Field("", max_length=MAX_TTS_CHARS)
    output_format: CartesiaOutputFormat = SOCKET_DEFAULT_FORMAT
    continue_: bool = Field(False, alias="continue")
    flush: bool = False
    add_timestamps: bool = False

    @model_validator(mode="after")
    def _raw(self):
        if self.output_format.container is not Container.RAW:
            raise ValueError("the WebSocket sends raw audio: use container `raw`")
        return self

    @property
    def ends(self) -> bool:
        return not self.continue_
