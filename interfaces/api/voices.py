"""`/voices`: the caller's "My Voices"."""

from __future__ import annotations

from fastapi import APIRouter

from interfaces.api.deps import AccountId, CatalogDep
from provoice.pvc.service import account_voices, get_voice
from provoice.views import VoiceView

router = APIRouter(prefix="/voices", tags=["voices"])


@router.get("")
def list_voices(account: AccountId, catalog: CatalogDep) -> list[VoiceView]:
    return [VoiceView.model_validate(v) for v in account_voices(catalog, account)]


@router.get("/{voice_id}")
def show_voice(voice_id: str, account: AccountId, catalog: CatalogDep) -> VoiceView:
    return VoiceView.model_validate(get_voice(catalog, voice_id, account))
