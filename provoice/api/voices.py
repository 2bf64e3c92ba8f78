"""`/voices`: the caller's "My Voices"."""

from __future__ import annotations

from fastapi import APIRouter

from provoice.api.deps import AccountId, CatalogDep
from provoice.pvc.service import account_voices, get_voice
from provoice.views import voice_json

router = APIRouter(prefix="/voices", tags=["voices"])


@router.get("")
def list_voices(account: AccountId, catalog: CatalogDep) -> list[dict]:
    return [voice_json(v) for v in account_voices(catalog, account)]


@router.get("/{voice_id}")
def show_voice(voice_id: str, account: AccountId, catalog: CatalogDep) -> dict:
    return voice_json(get_voice(catalog, voice_id, account))
