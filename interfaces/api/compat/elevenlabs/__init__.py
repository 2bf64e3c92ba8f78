"""ElevenLabs' API under `/elevenlabs`, for its official clients: `ElevenLabs(api_key=KEY,
base_url="https://HOST/elevenlabs")` (the key goes in `xi-api-key`, the client appends `v1/...`).

One module per job: `speech` (text to speech), `voices` (the account's voices in ElevenLabs' shape,
with the fine-tuning state), `pvc` (Professional Voice Cloning: create, samples, captcha, train),
`unsupported` (calls with no ProVoice counterpart, answered 400 with what to use instead),
`formats` (`output_format` names) and `errors` (ElevenLabs' `{"detail": {"status", "message"}}`,
registered for `/elevenlabs/` on import). Money follows `interfaces.api.speech`: held at the start,
charged for the audio delivered.
"""

from fastapi import APIRouter

from interfaces.api.compat.elevenlabs import pvc, speech, unsupported, voices
from interfaces.api.compat.elevenlabs.errors import ERRORS, PREFIX
from interfaces.api.compat.elevenlabs.voices import STAGES

router = APIRouter(prefix=PREFIX, tags=["ElevenLabs-compatible"], responses=ERRORS)
router.include_router(speech.router)
router.include_router(voices.router)
router.include_router(pvc.router)
router.include_router(unsupported.router)

__all__ = ["STAGES", "router"]
