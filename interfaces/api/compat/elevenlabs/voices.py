"""Voices (`voices.get_all`, `voices.search`, `voices.get`): every voice of the account, and every
PVC that has no voice yet (in ElevenLabs a clone is a voice from the moment it is created), in
ElevenLabs' Voice shape; the fine-tuning state is the PVC's status, keyed by its base model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from provoice.catalog import Catalog, DatasetFile, Pvc, Voice
from provoice.consent import consent_views
from provoice.errors import InvalidSource, NotFound
from provoice.pvc.service import account_voices, get_pvc, get_voice, list_pvcs
from provoice.pvc.status import PvcStatus, PvcStep
from provoice.pvc.transitions import refusal
from provoice.settings import Settings
from provoice.views import ConsentView

FineTuningState = Literal["not_started", "queued", "fine_tuning", "fine_tuned", "failed", "delayed"]


@dataclass(frozen=True)
class Stage:
    state: FineTuningState
    message: str


#: The one mapping of ProVoice's PVC statuses onto ElevenLabs' fine-tuning states.
STAGES: dict[str, Stage] = {
    PvcStatus.DRAFT: Stage("not_started", "upload samples, verify with the captcha, then train"),
    PvcStatus.QUEUED: Stage("queued", "waiting for a training worker"),
    PvcStatus.TRAINING: Stage("fine_tuning", "training"),
    PvcStatus.COMPLETED: Stage("fine_tuned", "fine-tuned"),
    PvcStatus.FAILED: Stage("failed", "the training failed; train again"),
}
STEPS = list(PvcStep)


class Sample(BaseModel):
    """A dataset file as an ElevenLabs sample, with ProVoice's verdict on it."""

    sample_id: str
    file_name: str
    size_bytes: int
    hash: str = Field(description="SHA-256 of the file as uploaded")
    duration_secs: float | None
    status: str = Field(description="pending (not prepared yet), accepted or rejected")
    reason: str | None = Field(description="why it was rejected")

    @classmethod
    def of(cls, f: DatasetFile) -> Sample:
        return cls(
            sample_id=f.id,
            file_name=f.original_name,
            size_bytes=f.size,
            hash=f.sha256,
            duration_secs=f.duration_s,
            status=f.status,
            reason=f.reason,
        )


class FineTuning(BaseModel):
    is_allowed_to_fine_tune: bool = Field(description="train would start now (consent verified, not running)")
    state: dict[str, FineTuningState] = Field(description="keyed by the base model the voice is trained on")
    progress: dict[str, float | None]
    message: dict[str, str | None]
    language: str
    verification_failures: list[str]
    verification_attempts_count: int
    manual_verification_requested: bool = False
    dataset_duration_seconds: float


class VoiceVerification(BaseModel):
    requires_verification: bool
    is_verified: bool
    verification_failures: list[str]
    verification_attempts_count: int
    language: str


class ElevenLabsVoice(BaseModel):
    voice_id: str
    name: str
    category: Literal["professional"] = "professional"
    description: str
    labels: dict[str, str]
    samples: list[Sample]
    fine_tuning: FineTuning
    voice_verification: VoiceVerification
    high_quality_base_model_ids: list[str]
    is_owner: bool = True
    created_at_unix: int


class Voices(BaseModel):
    voices: list[ElevenLabsVoice]


class VoicesPage(Voices):
    has_more: bool
    total_count: int
    next_page_token: str | None


router = APIRouter()


def find(catalog: Catalog, voice_id: str, account: str) -> Voice | Pvc:
    """A voice id is a ProVoice voice or a professional voice (a PVC) of the account."""
    for lookup in (get_voice, get_pvc):
        try:
            return lookup(catalog, voice_id, account)
        except NotFound:
            pass
    raise NotFound(f"no voice with id {voice_id!r} in this account: list yours with voices.get_all() (GET v1/voices)")


def dataset_files(catalog: Catalog, dataset_ids: set[str]) -> dict[str, list[DatasetFile]]:
    """The files of many datasets in one query."""
    found: dict[str, list[DatasetFile]] = {i: [] for i in dataset_ids}
    with catalog.session() as s:
        for f in s.scalars(
            select(DatasetFile)
            .where(DatasetFile.dataset_id.in_(dataset_ids))
            .order_by(DatasetFile.created_at, DatasetFile.id)
        ):
            found[f.dataset_id].append(f)
    return found


def progress(pvc: Pvc, stage: Stage) -> float:
    """1 once fine-tuned; while training, the share of the PVC's steps behind it."""
    if stage.state == "fine_tuned":
        return 1.0
    return STEPS.index(pvc.step) / len(STEPS) if pvc.step in STEPS else 0.0


def verified(consent: ConsentView) -> bool:
    return consent.status == "verified"


def fine_tuning(settings: Settings, pvc: Pvc, consent: ConsentView, files: list[DatasetFile]) -> FineTuning:
    stage, model = STAGES[pvc.status], pvc.base_model_id
    startable = (verified(consent) or not settings.require_consent) and refusal(pvc, retry=False) is None
    return FineTuning(
        is_allowed_to_fine_tune=startable,
        state={model: stage.state},
        progress={model: progress(pvc, stage)},
        message={model: pvc.reason or (f"{stage.message}: {pvc.step}" if pvc.step else stage.message)},
        language=pvc.language,
        verification_failures=[consent.reason] if consent.reason else [],
        verification_attempts_count=consent.recordings,
        dataset_duration_seconds=sum(f.duration_s or 0.0 for f in files if f.status != "rejected"),
    )


def entry(
    settings: Settings,
    voice_id: str,
    name: str,
    pvc: Pvc,
    consent: ConsentView,
    files: list[DatasetFile],
    created: datetime,
) -> ElevenLabsVoice:
    tuning = fine_tuning(settings, pvc, consent, files)
    verification = VoiceVerification(
        requires_verification=settings.require_consent,
        is_verified=verified(consent),
        verification_failures=tuning.verification_failures,
        verification_attempts_count=consent.recordings,
        language=pvc.language,
    )
    return ElevenLabsVoice(
        voice_id=voice_id,
        name=name,
        description=pvc.description,
        labels={"language": pvc.language},
        samples=[Sample.of(f) for f in files],
        fine_tuning=tuning,
        voice_verification=verification,
        high_quality_base_model_ids=[pvc.base_model_id],
        created_at_unix=int(created.timestamp()),
    )


def voice_entries(catalog: Catalog, settings: Settings, pvcs: list[Pvc], voices: list[Voice]) -> list[ElevenLabsVoice]:
    """Each voice with its PVC's state, then each PVC that has no voice yet, newest first."""
    by_id = {p.id: p for p in pvcs}
    consents = consent_views(catalog, list(by_id))
    files = dataset_files(catalog, {p.dataset_id for p in pvcs})
    spoken = {v.pvc_id for v in voices}
    rows = [(v.created_at, v.id, v.name, by_id[v.pvc_id]) for v in voices]
    rows += [(p.created_at, p.id, p.name, p) for p in pvcs if p.id not in spoken]
    rows.sort(key=lambda row: row[0], reverse=True)
    return [
        entry(settings, voice_id, name, pvc, consents[pvc.id], files[pvc.dataset_id], created)
        for created, voice_id, name, pvc in rows
    ]


def account_entries(catalog: Catalog, settings: Settings, account: str) -> list[ElevenLabsVoice]:
    return voice_entries(catalog, settings, list_pvcs(catalog, account), account_voices(catalog, account))


@router.get("/v1/voices")
def list_voices(account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> Voices:
    """`voices.get_all()`: the account's voices and the professional voices still without one."""
    return Voices(voices=account_entries(catalog, settings, account))


@router.get("/v2/voices")
def search_voices(
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    next_page_token: Annotated[str | None, Query(max_length=20)] = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
    search: Annotated[str | None, Query(max_length=200)] = None,
    sort: Literal["created_at_unix", "name"] = "created_at_unix",
    sort_direction: Literal["asc", "desc"] = "desc",
    category: str | None = None,
    fine_tuning_state: str | None = None,
    voice_ids: Annotated[list[str] | None, Query(max_length=100)] = None,
) -> VoicesPage:
    """`voices.search()`: the same voices, filtered by name or description (`search`), category,
    fine-tuning state or ids, sorted and paged. Label filters (gender, accent, ...) are not applied:
    ProVoice voices carry no such labels."""
    found = [
        v
        for v in account_entries(catalog, settings, account)
        if (not search or search.lower() in f"{v.name} {v.description}".lower())
        and (not category or category == v.category)
        and (not fine_tuning_state or fine_tuning_state in v.fine_tuning.state.values())
        and (not voice_ids or v.voice_id in voice_ids)
    ]
    found.sort(key=lambda v: getattr(v, sort), reverse=sort_direction == "desc")
    if next_page_token is not None and not next_page_token.isdigit():
        raise InvalidSource("next_page_token is not one this server gave: pass the previous page's next_page_token")
    start = int(next_page_token or 0)
    end = start + page_size
    return VoicesPage(
        voices=found[start:end],
        has_more=end < len(found),
        total_count=len(found),
        next_page_token=str(end) if end < len(found) else None,
    )


@router.get("/v1/voices/{voice_id}")
def show_voice(voice_id: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> ElevenLabsVoice:
    """`voices.get(voice_id)`: a voice, or a professional voice (its state while it fine-tunes)."""
    found = find(catalog, voice_id, account)
    if isinstance(found, Voice):
        return voice_entries(catalog, settings, [get_pvc(catalog, found.pvc_id)], [found])[0]
    return voice_entries(catalog, settings, [found], [])[0]
