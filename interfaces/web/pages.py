"""The Playground's pages (GET): home, sign-in, new PVC, PVC, datasets, voices, credits, and the
fragments that pages poll to stay live without reloading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from interfaces.api.deps import CatalogDep, SettingsDep
from interfaces.api.scope import account_datasets, current_pvc, owned_dataset
from interfaces.api.session import keep_login_token, login_token, session_key
from interfaces.web.quality import pvc_distance, quality_report, segment_audio, stored_clip
from interfaces.web.render import page
from interfaces.web.routing import PageRoute
from interfaces.web.visitor import SignInRequired, Visitor, VisitorDep, visitor
from provoice.catalog import Catalog, Pvc
from provoice.catalog.models import MILLI_CREDITS
from provoice.credits import PVC_TRAINING_CREDITS, TTS_CREDITS_PER_CHARACTER, account_balance, history, holds
from provoice.dataset.queries import dataset_rows, dataset_view
from provoice.pvc.queries import pvc_views
from provoice.pvc.service import account_voices, get_voice, list_pvcs
from provoice.pvc.status import ACTIVE, PvcStatus, PvcStep
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.views import BalanceView, CreditEntryView, DatasetView, PvcView
from provoice.voice_models import BaseModelRegistry, recipe_for, training_progress

router = APIRouter(route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse)

TIMELINE: tuple[str, ...] = (PvcStatus.QUEUED, *PvcStep)


@dataclass(frozen=True)
class Stage:
    name: str
    state: str  # done, current, failed or todo


@dataclass(frozen=True)
class PvcRow:
    """A PVC as the Playground shows it: the view, its live training progress and its timeline."""

    view: PvcView
    progress: dict | None
    timeline: list[Stage]

    @property
    def active(self) -> bool:
        return self.view.status in ACTIVE


def timeline(view: PvcView) -> list[Stage]:
    """Where the attempt is among queued → preparing data → training → creating voices → charging:
    the steps the flow sets (evaluating the model is part of training)."""
    if view.status == PvcStatus.DRAFT:
        return [Stage(n, "todo") for n in TIMELINE]
    if view.status == PvcStatus.COMPLETED:
        return [Stage(n, "done") for n in TIMELINE]
    if view.status == PvcStatus.FAILED:
        return [Stage(PvcStatus.FAILED, "failed")]
    at = 0 if view.status == PvcStatus.QUEUED else TIMELINE.index(view.step) if view.step in TIMELINE else 1
    return [Stage(n, "done" if i < at else "current" if i == at else "todo") for i, n in enumerate(TIMELINE)]


def pvc_rows(settings: Settings, catalog: Catalog, pvcs: list[Pvc]) -> list[PvcRow]:
    rows = []
    for view in pvc_views(catalog, pvcs):
        training = view.status == PvcStatus.TRAINING and view.step == PvcStep.TRAINING
        progress = training_progress(settings, view.id) if training else None
        rows.append(PvcRow(view, progress, timeline(view)))
    return rows


def _balance(catalog: Catalog, me: Visitor) -> BalanceView:
    return BalanceView.of(account_balance(catalog, me.account_id))


def _home_context(settings: Settings, catalog: Catalog, me: Visitor) -> dict[str, Any]:
    """The account's PVCs, newest first, and its credits."""
    rows = pvc_rows(settings, catalog, list(reversed(list_pvcs(catalog, me.account_id))))
    return {"me": me, "rows": rows, "balance": _balance(catalog, me)}


@router.get("/")
def home(request: Request, catalog: CatalogDep, settings: SettingsDep) -> Response:
    try:
        me = visitor(request, catalog)
    except SignInRequired:
        return RedirectResponse("/ui/sign-in", status_code=303)
    return page(request, "home.html", _home_context(settings, catalog, me))


@router.get("/ui/fragments/pvcs")
def pvc_table(request: Request, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep) -> Response:
    return page(request, "_pvc_table.html", _home_context(settings, catalog, me))


@router.get("/ui/sign-in")
def sign_in_page(request: Request, catalog: CatalogDep, next: str = "/") -> Response:
    if session_key(request):
        try:
            visitor(request, catalog)
            return RedirectResponse(local_path(next), status_code=303)
        except SignInRequired:
            pass
    return sign_in_form(request, next)


def sign_in_form(request: Request, next: str, error: str | None = None, status_code: int = 200) -> Response:
    token = login_token(request)
    response = page(
        request, "sign_in.html", {"next": local_path(next), "error": error, "login": token}, status_code=status_code
    )
    keep_login_token(response, request, token)
    return response


def local_path(target: str) -> str:
    """Only a path of this site: `next` never sends a signed-in browser somewhere else."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.get("/ui/pvcs/new")
def new_pvc(
    request: Request, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep, dataset: str | None = None
) -> Response:
    bases = BaseModelRegistry(settings, catalog).list()
    return page(
        request,
        "new_pvc.html",
        {
            "me": me,
            "bases": bases,
            "latest": next((b for b in bases if b.latest), None),
            "datasets": dataset_rows(catalog, account_datasets(catalog, me.account_id)),
            "chosen": dataset,
            "languages": settings.languages,
            "minutes": recipe_for(settings).default_minutes(settings),
            "balance": _balance(catalog, me),
            "needed": PVC_TRAINING_CREDITS,
            "max_minutes": settings.max_train_minutes,
        },
    )


def pvc_context(settings: Settings, catalog: Catalog, me: Visitor, pvc_id: str) -> dict[str, Any]:
    row = pvc_rows(settings, catalog, [current_pvc(catalog, settings, pvc_id, me.account_id)])[0]
    dataset = dataset_view(catalog, owned_dataset(catalog, row.view.dataset_id, me.account_id))
    balance = _balance(catalog, me)
    view = row.view
    return {
        "me": me,
        "row": row,
        "pvc": view,
        "dataset": dataset,
        "balance": balance,
        "distance": pvc_distance(settings, catalog, dataset.id, view.base_model_id, view.budget, view.evaluation),
        "needed": PVC_TRAINING_CREDITS,
        "covered": balance.available >= PVC_TRAINING_CREDITS,
        "consent_needed": settings.require_consent,
        "rate": float(TTS_CREDITS_PER_CHARACTER),
        "pending": pending_files(dataset),
        # pending files wait for a preparation that was asked for but has not recorded its start yet
        "live": row.active or dataset.preparing is not None or pending_files(dataset) > 0,
    }


def pending_files(dataset: DatasetView) -> int:
    return sum(1 for f in dataset.files if f.status == "pending")


@router.get("/ui/pvcs/{pvc_id}")
def pvc_page(
    pvc_id: str,
    request: Request,
    me: VisitorDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    message: str | None = None,
) -> Response:
    return page(request, "pvc.html", {**pvc_context(settings, catalog, me, pvc_id), "message": message})


@router.get("/ui/fragments/pvcs/{pvc_id}")
def pvc_fragment(pvc_id: str, request: Request, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep) -> Response:
    return page(request, "_pvc_live.html", pvc_context(settings, catalog, me, pvc_id))


@router.get("/ui/datasets")
def datasets_page(request: Request, me: VisitorDep, catalog: CatalogDep) -> Response:
    return page(
        request,
        "datasets.html",
        {"me": me, "datasets": dataset_rows(catalog, account_datasets(catalog, me.account_id))},
    )


def dataset_context(
    settings: Settings, catalog: Catalog, me: Visitor, dataset_id: str, page: int | None = None, shown: str = "all"
) -> dict[str, Any]:
    """The dataset, its report and one page of its segments (`shown`: all, kept or rejected)."""
    dataset = dataset_view(catalog, owned_dataset(catalog, dataset_id, me.account_id))
    return {
        "me": me,
        "dataset": dataset,
        "report": quality_report(settings, catalog, dataset_id, page, shown),
        "live": dataset.preparing is not None,
        "pending": pending_files(dataset),
    }


@router.get("/ui/datasets/{dataset_id}")
def dataset_page(
    dataset_id: str,
    request: Request,
    me: VisitorDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    segments: int | None = Query(None, ge=1, description="the page of segments shown"),
    shown: str = "all",
) -> Response:
    return page(request, "dataset.html", dataset_context(settings, catalog, me, dataset_id, segments, shown))


@router.get("/ui/fragments/datasets/{dataset_id}")
def dataset_fragment(
    dataset_id: str,
    request: Request,
    me: VisitorDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    segments: int | None = Query(None, ge=1),
    shown: str = "all",
) -> Response:
    return page(request, "_dataset_live.html", dataset_context(settings, catalog, me, dataset_id, segments, shown))


@router.get("/ui/datasets/{dataset_id}/versions/{version}/segments/{index}.wav", response_class=Response)
def segment_wav(
    dataset_id: str, version: str, index: int, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    owned_dataset(catalog, dataset_id, me.account_id)
    return Response(segment_audio(settings, catalog, dataset_id, version, index), media_type="audio/wav")


@router.get("/ui/voices")
def voices_page(request: Request, me: VisitorDep, catalog: CatalogDep) -> Response:
    voices = account_voices(catalog, me.account_id)
    names = {p.id: p.name for p in list_pvcs(catalog, me.account_id)}
    return page(request, "voices.html", {"me": me, "voices": voices, "pvc_names": names})


@router.get("/ui/voices/{voice_id}/clip.wav", response_class=Response)
def voice_clip(voice_id: str, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep) -> Response:
    """The stretch of real speech the voice was made from."""
    voice = get_voice(catalog, voice_id, me.account_id)
    return Response(
        stored_clip(Storage.from_settings(settings), voice.clip_uri, voice.clip_start, voice.clip_end),
        media_type="audio/wav",
    )


@router.get("/ui/credits")
def credits_page(request: Request, me: VisitorDep, catalog: CatalogDep) -> Response:
    held = [
        {"credits": h.amount / MILLI_CREDITS, "purpose": h.kind, "reference": h.reference, "since": h.created_at}
        for h in holds(catalog, me.account_id, status="held")
    ]
    entries = [CreditEntryView.of(e) for e in reversed(history(catalog, me.account_id))]
    return page(
        request, "credits.html", {"me": me, "balance": _balance(catalog, me), "holds": held, "entries": entries}
    )
