"""ProVoice's voices as Cartesia describes them: the voice routes, and the voice a speech request
speaks with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from interfaces.api.compat.cartesia.shapes import Cursor, Limit, Page, paged
from interfaces.api.compat.cartesia.speech_requests import SpeechFields
from interfaces.api.deps import AccountId, CatalogDep
from provoice.catalog import Catalog, Voice
from provoice.errors import InvalidSource
from provoice.pvc.service import account_voices, get_pvc, get_voice, list_pvcs

router = APIRouter()


class VoiceLocale(BaseModel):
    locale: str
    is_native: bool


class CartesiaVoice(BaseModel):
    """A ProVoice voice as Cartesia describes one: private to its owner, speaking its PVC's language."""

    id: str
    name: str
    description: str
    tagline: str = ""
    language: str
    locales: list[VoiceLocale]
    access: Literal["private", "public"] = "private"
    visibility: Literal["owner", "all"] = "owner"
    is_owner: bool = True
    created_at: datetime
    preview_file_url: str | None = Field(None, description="with expand[]=preview_file_url, when it has a preview")


def _language(tag: str) -> str:
    return tag.replace("_", "-").split("-")[0].lower()


def _locale(tag: str) -> str:
    head, _, region = tag.replace("_", "-").partition("-")
    return f"{head.lower()}-{region.upper()}" if region else head.lower()


def spoken_voice(catalog: Catalog, account: str, body: SpeechFields) -> Voice:
    """The caller's voice (404 for another account's), refused when asked for a language it does not speak."""
    voice = get_voice(catalog, body.voice_id, account)
    asked = body.language or body.locale
    if asked:
        speaks = get_pvc(catalog, voice.pvc_id).language
        if _language(asked) != _language(speaks):
            raise InvalidSource(f"voice {voice.id} speaks {speaks!r}; it cannot speak {asked!r}")
    return voice


def cartesia_voices(
    request: Request, catalog: Catalog, voices: list[Voice], account: str, expand: Sequence[str] = ()
) -> list[CartesiaVoice]:
    """`voices` as Cartesia describes them, with a preview link when `expand` asks for one."""
    pvcs = {p.id: p for p in list_pvcs(catalog, account)}
    out = []
    for voice in voices:
        pvc = pvcs.get(voice.pvc_id)
        language = pvc.language if pvc else "en"
        preview = (
            str(request.url_for("voice_preview", voice_id=voice.id))
            if "preview_file_url" in expand and voice.preview_uri
            else None
        )
        out.append(
            CartesiaVoice(
                id=voice.id,
                name=voice.name,
                description=pvc.description if pvc else "",
                language=_language(language),
                locales=[VoiceLocale(locale=_locale(language), is_native=True)],
                created_at=voice.created_at,
                preview_file_url=preview,
            )
        )
    return out


def _matches(voice: CartesiaVoice, q: str | None) -> bool:
    needle = (q or "").strip().lower()
    return not needle or any(needle in field.lower() for field in (voice.id, voice.name, voice.description))


Expand = Annotated[list[str] | None, Query(alias="expand[]", description="preview_file_url")]


@router.get("/voices")
def list_voices(
    request: Request,
    account: AccountId,
    catalog: CatalogDep,
    limit: Limit = 10,
    starting_after: Cursor = None,
    ending_before: Cursor = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    is_owner: bool | None = None,
    gender: str | None = None,
    expand: Expand = None,
) -> Page[CartesiaVoice]:
    """`voices.list`: the caller's voices, newest first, a page at a time (`starting_after` the last
    id). `q` matches a voice's id, name or description; ProVoice records no gender, so `gender`
    filters nothing; every voice is the caller's own."""
    voices = sorted(account_voices(catalog, account), key=lambda v: (v.created_at, v.id), reverse=True)
    shown = [v for v in cartesia_voices(request, catalog, voices, account, expand or ()) if _matches(v, q)]
    if is_owner is False:
        shown = []
    return Page[CartesiaVoice](**paged(shown, list, limit, starting_after, ending_before, "voice"))


@router.get("/voices/{voice_id}")
def show_voice(
    voice_id: str, request: Request, account: AccountId, catalog: CatalogDep, expand: Expand = None
) -> CartesiaVoice:
    """`voices.get`."""
    return cartesia_voices(request, catalog, [get_voice(catalog, voice_id, account)], account, expand or ())[0]
