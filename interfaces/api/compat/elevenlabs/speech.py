"""Speech (`text_to_speech.convert` / `.stream`) with a ProVoice voice id, or a professional voice
(PVC) id, which speaks with its first voice once it has one. `model_id` is accepted and never
changes the model: a voice speaks only with the model it was trained into. `voice_settings.speed`
is the speaking rate; the other voice settings have no ProVoice counterpart and are ignored.
Money follows `interfaces.api.speech`: held at the start, charged for the audio delivered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from interfaces.api.compat.elevenlabs.errors import VoiceNotReady
from interfaces.api.compat.elevenlabs.formats import FORMAT_HELP, audio_format
from interfaces.api.compat.elevenlabs.voices import STAGES, find
from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.speech import Speech, streamed_response, whole_response
from interfaces.api.tts import AUDIO_CONTENT, MAX_TTS_CHARS
from provoice.audio.output import Container
from provoice.catalog import Catalog, Voice
from provoice.pvc.service import voices_of
from provoice.settings import Settings


class VoiceSettings(BaseModel):
    model_config = ConfigDict(extra="allow")

    speed: float | None = Field(
        None,
        description="speaking rate, 1 is the voice's own; the other settings "
        "(stability, similarity_boost, style, ...) are ignored",
    )


class ElevenLabsSpeechRequest(BaseModel):
    """What the client sends; fields ProVoice has no use for (seed, previous_text, ...) are ignored."""

    model_config = ConfigDict(extra="allow")

    text: str = Field(min_length=1, max_length=MAX_TTS_CHARS)
    model_id: str | None = Field(None, description="accepted and ignored: a voice speaks with its own model")
    voice_settings: VoiceSettings | None = None

    @property
    def speed(self) -> float:
        speed = self.voice_settings and self.voice_settings.speed
        return 1.0 if speed is None else speed


OutputFormat = Annotated[str, Query(max_length=40, description=f"default mp3_44100_128; {FORMAT_HELP}")]
AUDIO = {200: {"content": AUDIO_CONTENT, "description": "the speech, sent as it is made"}}

router = APIRouter()


def speaking_voice(catalog: Catalog, voice_id: str, account: str) -> Voice:
    """The voice itself, or a PVC's first voice of its current model."""
    found = find(catalog, voice_id, account)
    if isinstance(found, Voice):
        return found
    voices = voices_of(catalog, found.id, found.model_id) if found.model_id else []
    if not voices:
        stage = STAGES[found.status]
        raise VoiceNotReady(
            f"the professional voice {found.id} cannot speak yet: its fine-tuning is {stage.state} "
            f"({found.reason or stage.message}); voices.get({found.id!r}) shows when it is fine_tuned"
        )
    return voices[0]


def speak(
    catalog: Catalog,
    settings: Settings,
    account: str,
    voice_id: str,
    body: ElevenLabsSpeechRequest,
    output_format: str,
    *,
    whole_wav: bool,
) -> Response:
    """The audio as it is made; with `whole_wav`, a WAV is made whole first so its header carries
    its real sizes (a client reading a file may trust them). Charged as `interfaces.api.speech` says."""
    voice = speaking_voice(catalog, voice_id, account)
    fmt = audio_format(output_format)
    whole = whole_wav and fmt.container is Container.WAV
    speech = Speech(catalog, settings, voice, body.text, fmt, speed=body.speed, streamed=not whole)
    return whole_response(speech) if whole else streamed_response(speech)


@router.post("/v1/text-to-speech/{voice_id}", response_class=Response, responses=AUDIO)
def convert(
    voice_id: str,
    body: ElevenLabsSpeechRequest,
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    output_format: OutputFormat = "mp3_44100_128",
) -> Response:
    """`text_to_speech.convert`: the whole audio (sent as it is made, except a WAV)."""
    return speak(catalog, settings, account, voice_id, body, output_format, whole_wav=True)


@router.post("/v1/text-to-speech/{voice_id}/stream", response_class=Response, responses=AUDIO)
def stream(
    voice_id: str,
    body: ElevenLabsSpeechRequest,
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    output_format: OutputFormat = "mp3_44100_128",
) -> Response:
    """`text_to_speech.stream`: the audio sentence by sentence; charged for the sentences sent."""
    return speak(catalog, settings, account, voice_id, body, output_format, whole_wav=False)
