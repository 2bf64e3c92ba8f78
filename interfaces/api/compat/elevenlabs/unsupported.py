"""ElevenLabs calls with no ProVoice counterpart (editing a PVC or a sample, sample audio and
waveforms, speaker separation, manual verification): each answers 400 with what to use instead,
rather than a bare 404 the client could not act on. Hidden from `/docs`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from interfaces.api.compat.elevenlabs.errors import NotSupported
from interfaces.api.deps import AccountId

SPEAKERS = (
    "ProVoice does not separate speakers: the quality check keeps the samples' main voice and rejects "
    "segments of others; upload recordings of the speaker alone"
)
#: ElevenLabs calls with no ProVoice counterpart: (method, path, what to do instead).
ELSEWHERE = (
    (
        "POST",
        "/v1/voices/pvc/{voice_id}",
        "a professional voice cannot be renamed or relabelled: create another with voices.pvc.create",
    ),
    (
        "POST",
        "/v1/voices/pvc/{voice_id}/samples/{sample_id}",
        "samples cannot be trimmed, denoised or renamed: "
        "delete it (voices.pvc.samples.delete) and upload the edited recording (voices.pvc.samples.create)",
    ),
    (
        "GET",
        "/v1/voices/pvc/{voice_id}/samples/{sample_id}/audio",
        "ProVoice does not send samples back: voices.get(voice_id).samples lists each with its status",
    ),
    (
        "GET",
        "/v1/voices/pvc/{voice_id}/samples/{sample_id}/waveform",
        "ProVoice draws no waveforms: voices.get(voice_id).samples gives each sample's duration and status",
    ),
    ("GET", "/v1/voices/pvc/{voice_id}/samples/{sample_id}/speakers", SPEAKERS),
    ("POST", "/v1/voices/pvc/{voice_id}/samples/{sample_id}/separate-speakers", SPEAKERS),
    ("GET", "/v1/voices/pvc/{voice_id}/samples/{sample_id}/speakers/{speaker_id}/audio", SPEAKERS),
    (
        "POST",
        "/v1/voices/pvc/{voice_id}/verification",
        "there is no manual verification: the speaker verifies by "
        "reading the captcha (voices.pvc.verification.captcha.get, then captcha.verify with the recording)",
    ),
)

router = APIRouter()


def _answer_elsewhere(why: str) -> Callable[[str], None]:
    """A route that refuses with `why`, once the key is checked like on every ElevenLabs route."""

    def refuse(account: AccountId) -> None:
        raise NotSupported(why)

    return refuse


for method, path, why in ELSEWHERE:
    router.add_api_route(path, _answer_elsewhere(why), methods=[method], include_in_schema=False)
