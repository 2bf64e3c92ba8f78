"""Cartesia's fine-tunes as ProVoice's PVCs. Cartesia has no consent call, so a fine-tune waits for
its speaker's consent (verified through the native routes) and then trains by itself; its `consent`
field says what to do."""

from __future__ import annotations

import contextlib
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from interfaces.api.compat.cartesia.routing import slash_optional
from interfaces.api.compat.cartesia.shapes import Cursor, Deleted, Limit, Page, paged
from interfaces.api.compat.cartesia.voices import CartesiaVoice, cartesia_voices
from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.scope import current_pvc, owned_dataset
from provoice.catalog import Catalog, Pvc
from provoice.consent import consent_views
from provoice.errors import NotFound
from provoice.pvc.service import create_pvc, delete_pvc, get_pvc, list_pvcs, voices_of
from provoice.pvc.status import PvcStatus
from provoice.settings import Settings
from provoice.views import ConsentView
from provoice.voice_models import BaseModelRegistry

router = APIRouter()

#: A PVC's statuses as Cartesia's fine-tune statuses.
FINE_TUNE_STATUS = {
    PvcStatus.DRAFT: "created",
    PvcStatus.QUEUED: "training",
    PvcStatus.TRAINING: "training",
    PvcStatus.COMPLETED: "completed",
    PvcStatus.FAILED: "failed",
}


class CartesiaNewFineTune(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataset: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    language: str = Field("en", min_length=2, max_length=16)
    model_id: str = Field("", max_length=200, description="a ProVoice base model id; any other name means the latest")


class FineTuneConsent(BaseModel):
    """What the speaker still has to do before the fine-tune trains (ProVoice trains no voice
    without its owner's verified consent; training then starts by itself)."""

    required: bool = True
    status: str = Field(description="none, prompted, verified or invalidated")
    prompt_url: str = Field(description="POST here (native API, same key) for the statement to read aloud")
    recording_url: str = Field(description="POST the reading here as multipart `file`")
    message: str


class CartesiaFineTune(BaseModel):
    id: str
    dataset: str
    name: str
    description: str
    language: str
    model_id: str = Field(description="the ProVoice base model it fine-tunes")
    status: Literal["created", "training", "completed", "failed"]
    consent: FineTuneConsent
    train_on_consent: bool = Field(description="training starts once the speaker's consent is verified")


def _consent(pvc: Pvc, view: ConsentView) -> FineTuneConsent:
    prompt_url, recording_url = f"/fine-tunes/{pvc.id}/consent/prompt", f"/fine-tunes/{pvc.id}/consent"
    if view.status == "verified" and pvc.status == PvcStatus.DRAFT:
        message = (
            f"the speaker's consent is verified but training did not start (the consent's answer said "
            f"why, e.g. not enough credits): start it with POST /fine-tunes/{pvc.id}/train"
        )
    elif view.status == "verified":
        message = "the speaker's consent is verified"
    else:
        message = (
            f"ProVoice trains a voice only with its speaker's verified consent: POST {prompt_url} for a "
            f"statement, have the speaker read it aloud and POST the recording (multipart `file`) to "
            f"{recording_url}; training then starts by itself"
        )
        if view.status == "invalidated":
            message = f"the consent is no longer valid ({view.reason}); {message}"
    return FineTuneConsent(status=view.status, prompt_url=prompt_url, recording_url=recording_url, message=message)


def cartesia_fine_tunes(catalog: Catalog, pvcs: list[Pvc]) -> list[CartesiaFineTune]:
    """`pvcs` as Cartesia's fine-tunes, each with what its consent still needs."""
    consents = consent_views(catalog, [p.id for p in pvcs])
    return [
        CartesiaFineTune(
            id=p.id,
            dataset=p.dataset_id,
            name=p.name,
            description=p.description,
            language=p.language,
            model_id=p.base_model_id,
            status=FINE_TUNE_STATUS[p.status],
            consent=_consent(p, consents[p.id]),
            train_on_consent=bool(p.train_on_consent),
        )
        for p in pvcs
    ]


def _base_model(settings: Settings, catalog: Catalog, asked: str) -> str:
    """The base model a Cartesia `model_id` names: a registered ProVoice one, else the latest."""
    registry = BaseModelRegistry(settings, catalog)
    if asked:
        with contextlib.suppress(NotFound):
            return registry.get(asked).id
    return registry.get("latest").id


@slash_optional(router, "post", "/fine-tunes", status_code=201)
def create_fine_tune(
    body: CartesiaNewFineTune, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> CartesiaFineTune:
    """`fine_tunes.create`: a PVC (status `created`) that starts training by itself once its
    speaker's consent is verified; `consent` says how."""
    owned_dataset(catalog, body.dataset, account)
    pvc = create_pvc(
        catalog,
        account,
        body.dataset,
        body.name,
        _base_model(settings, catalog, body.model_id),
        language=body.language,
        description=body.description,
        settings=settings,
        train_on_consent=True,
    )
    return cartesia_fine_tunes(catalog, [pvc])[0]


@slash_optional(router, "get", "/fine-tunes")
def list_fine_tunes(
    account: AccountId,
    catalog: CatalogDep,
    limit: Limit = 10,
    starting_after: Cursor = None,
    ending_before: Cursor = None,
) -> Page[CartesiaFineTune]:
    """`fine_tunes.list`: oldest first, a page at a time."""
    rows = sorted(list_pvcs(catalog, account), key=lambda p: (p.created_at, p.id))
    return Page[CartesiaFineTune](
        **paged(
            rows, lambda page: cartesia_fine_tunes(catalog, page), limit, starting_after, ending_before, "fine-tune"
        )
    )


@router.get("/fine-tunes/{fine_tune_id}")
def show_fine_tune(
    fine_tune_id: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> CartesiaFineTune:
    """`fine_tunes.retrieve`."""
    return cartesia_fine_tunes(catalog, [current_pvc(catalog, settings, fine_tune_id, account)])[0]


@router.delete(
    "/fine-tunes/{fine_tune_id}",
    responses={409: {"description": "it was started, or it has consent recordings (kept as the record)"}},
)
def remove_fine_tune(fine_tune_id: str, account: AccountId, catalog: CatalogDep) -> Deleted:
    """`fine_tunes.delete`: only a fine-tune that never trained and has no consent recording."""
    return Deleted(id=delete_pvc(catalog, fine_tune_id, account).id)


@router.get("/fine-tunes/{fine_tune_id}/voices")
def fine_tune_voices(
    fine_tune_id: str,
    request: Request,
    account: AccountId,
    catalog: CatalogDep,
    limit: Limit = 10,
    starting_after: Cursor = None,
    ending_before: Cursor = None,
) -> Page[CartesiaVoice]:
    """`fine_tunes.list_voices`: the voices of its current model (none before it completes)."""
    pvc = get_pvc(catalog, fine_tune_id, account)
    voices = voices_of(catalog, pvc.id, pvc.model_id) if pvc.model_id else []
    shown = cartesia_voices(request, catalog, voices, account)
    return Page[CartesiaVoice](**paged(shown, list, limit, starting_after, ending_before, "voice"))
