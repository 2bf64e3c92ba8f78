"""`/voices`: the caller's "My Voices", each voice's preview, and each voice as a standard Piper voice."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from provoice.errors import NotFound
from provoice.pvc.service import account_voices, get_voice
from provoice.storage import Storage
from provoice.views import VoiceView
from provoice.voice_models import piper_voice_zip

router = APIRouter(prefix="/voices", tags=["voices"])


@router.get("")
def list_voices(account: AccountId, catalog: CatalogDep) -> list[VoiceView]:
    return [VoiceView.model_validate(v) for v in account_voices(catalog, account)]


@router.get("/{voice_id}")
def show_voice(voice_id: str, account: AccountId, catalog: CatalogDep) -> VoiceView:
    return VoiceView.model_validate(get_voice(catalog, voice_id, account))


@router.get(
    "/{voice_id}/preview",
    response_class=Response,
    responses={
        200: {
            "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the voice's preview sentence as a WAV file",
        }
    },
)
def voice_preview(voice_id: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> Response:
    voice = get_voice(catalog, voice_id, account)
    if not voice.preview_uri:
        raise NotFound(f"voice {voice_id} has no preview")
    storage = Storage.from_settings(settings)
    return Response(storage.read_bytes(storage.key_of(voice.preview_uri)), media_type="audio/wav")


@router.get(
    "/{voice_id}/piper",
    response_class=Response,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the voice as a Piper voice: `<name>.onnx`, `<name>.onnx.json` and a model card `<name>.md`",
        }
    },
)
def voice_piper(voice_id: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> Response:
    """A sync route, so the export (seconds of CPU) runs in the thread pool, off the event loop."""
    filename, data = piper_voice_zip(settings, catalog, voice_id, account)
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": f"attachment; filename={filename}"}
    )
