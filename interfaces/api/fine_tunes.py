"""`/fine-tunes`: pro voice clones. Creating one makes a draft; its speaker consents by reading a
prompt (`/consent/prompt`, then the recording to `/consent`); `train` and `retry` (403 without a
verified consent) claim it (status
`queued`, 1,000,000 credits held, budget fixed) in one transaction, so of two racing starts one
runs and the other is refused (409, or 402 with the figures), then hand it to Prefect and answer
202 at once (see `runner`). `PATCH` turns retraining on new base models on or off; `/retrains`
lists its decisions."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_serializer
from starlette.concurrency import run_in_threadpool

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.errors import BadUpload
from interfaces.api.runner import Runner
from interfaces.api.scope import current_pvc, owned_dataset
from interfaces.api.uploads import Limits, receive_files
from provoice.catalog import Catalog, Pvc
from provoice.consent import consent_prompt_view, consent_result_view, new_prompt, submit_recording
from provoice.errors import NotFound, ProVoiceError
from provoice.pvc.budget import Budget
from provoice.pvc.queries import pvc_view, pvc_views
from provoice.pvc.retrain import decisions
from provoice.pvc.service import create_pvc, get_pvc, list_pvcs, set_auto_retrain
from provoice.pvc.status import PvcStatus
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.views import ConsentPromptView, ConsentResultView, PvcView, RetrainView
from provoice.voice_models import MODELS_PREFIX, BaseModelRegistry

router = APIRouter(prefix="/fine-tunes", tags=["fine-tunes"])


class NewFineTune(BaseModel):
    dataset_id: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    speaker_name: str | None = Field(
        None, min_length=1, max_length=200, description="whose voice it is, named by the consent prompt (default: name)"
    )
    base_model_id: str | None = Field(None, description="default: the latest base model")
    language: str = Field("en", min_length=2, max_length=16)
    description: str = Field("", max_length=5000)
    webhook_url: AnyHttpUrl | None = Field(None, description="told when the PVC completes or fails")
    auto_retrain: bool = Field(
        False,
        description="retrain on each new base model; the new model replaces "
        "the old one only if it is not worse (no credits charged)",
    )


class FineTuneChange(BaseModel):
    auto_retrain: bool = Field(description="retrain on each new base model (no credits charged)")


class TrainingBudget(BaseModel):
    """Omit both for the PVC's own budget (a retry: what is left of it; a first start:
    PROVOICE_PVC_TRAIN_MINUTES). Bounded by PROVOICE_MAX_TRAIN_STEPS / PROVOICE_MAX_TRAIN_MINUTES."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int | None = Field(None, ge=1, le=1_000_000_000, strict=True)
    max_minutes: float | None = Field(None, gt=0, le=1_000_000, allow_inf_nan=False)


@router.post("", status_code=201)
def create_fine_tune(body: NewFineTune, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> PvcView:
    owned_dataset(catalog, body.dataset_id, account)
    base = BaseModelRegistry(settings, catalog).get(body.base_model_id or "latest")
    pvc = create_pvc(
        catalog,
        account,
        body.dataset_id,
        body.name,
        base.id,
        language=body.language,
        description=body.description,
        webhook_url=body.webhook_url and str(body.webhook_url),
        auto_retrain=body.auto_retrain,
        speaker_name=body.speaker_name,
        settings=settings,
    )
    return pvc_view(catalog, pvc)


@router.get("")
def list_fine_tunes(account: AccountId, catalog: CatalogDep) -> list[PvcView]:
    return pvc_views(catalog, list_pvcs(catalog, account))


@router.get("/{pvc_id}")
def show_fine_tune(pvc_id: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> PvcView:
    """The PVC now; a queued or training PVC whose worker is gone is failed here first (resumable),
    and its owner notified."""
    return pvc_view(catalog, current_pvc(catalog, settings, pvc_id, account))


@router.get(
    "/{pvc_id}/loss-curve",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the training's loss curves as a PNG image",
        }
    },
)
def loss_curve(pvc_id: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> Response:
    pvc = get_pvc(catalog, pvc_id, account)
    storage = Storage.from_settings(settings)
    key = pvc.model_id and storage.read_json(f"{MODELS_PREFIX}/{pvc.model_id}/config.json")["metadata"].get(
        "loss_curve_key"
    )
    if not key or not storage.exists(key):
        raise NotFound(f"PVC {pvc_id} has no loss curve yet")
    return Response(storage.read_bytes(key), media_type="image/png")


@router.patch("/{pvc_id}")
def change_fine_tune(pvc_id: str, body: FineTuneChange, account: AccountId, catalog: CatalogDep) -> PvcView:
    """Turn retraining on new base models on or off; see `latest_retrain` for the last decision."""
    return pvc_view(catalog, set_auto_retrain(catalog, pvc_id, body.auto_retrain, account))


@router.get("/{pvc_id}/retrains")
def list_retrains(pvc_id: str, account: AccountId, catalog: CatalogDep) -> list[RetrainView]:
    """Every retrain decision of the PVC (promoted, kept or failed, with the reason), oldest first."""
    get_pvc(catalog, pvc_id, account)
    return [RetrainView.of(r) for r in decisions(catalog, pvc_id)]


@router.post("/{pvc_id}/consent/prompt", status_code=201)
def consent_prompt(pvc_id: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> ConsentPromptView:
    """A consent statement naming the speaker and the account, with one-time words, for the speaker
    to read aloud; it replaces any open prompt and expires (PROVOICE_CONSENT_PROMPT_HOURS)."""
    return consent_prompt_view(new_prompt(catalog, settings, pvc_id, account))


class TrainingOnConsent(BaseModel):
    """For a PVC made to train once its speaker consents (a Cartesia fine-tune): whether the
    verified consent started its training, or why not (the consent stands either way)."""

    started: bool
    status: str = Field(description="the PVC's status now")
    detail: str | None = Field(description="why training did not start, and what to do")


class ConsentAnswer(ConsentResultView):
    """A recording's verdict; `training` only for a PVC that trains once its consent is verified."""

    training: TrainingOnConsent | None = None

    @model_serializer(mode="wrap")
    def _without_empty_training(self, handler):
        out = handler(self)
        if out.get("training") is None:
            out.pop("training", None)
        return out


CONSENT_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "/{pvc_id}/consent",
    openapi_extra=CONSENT_UPLOAD,
    responses={
        409: {"description": "no open prompt, or it expired or has no attempts left"},
        413: {"description": "over PROVOICE_CONSENT_MAX_BYTES"},
    },
)
async def consent(
    pvc_id: str, request: Request, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> ConsentAnswer:
    """The speaker's reading of the prompt (multipart, one `file` part, any accepted audio format).
    A recording that is refused is an answer with `verified: false` and its reason; each counts
    against the prompt's attempts. The recording is kept as the consent's record; the dataset is not changed.
    A PVC created to train on consent (a Cartesia fine-tune) starts training once its recording is
    verified: `training` says whether it started (a refusal such as 402 leaves the consent verified)."""
    await run_in_threadpool(get_pvc, catalog, pvc_id, account)
    room = settings.consent_max_bytes
    with tempfile.TemporaryDirectory(prefix="provoice-consent-") as tmp:
        uploads = await receive_files(request, Path(tmp), Limits.single(room))
        if len(uploads) != 1:
            raise BadUpload(f"send one recording, not {len(uploads)} files")
        sub = await run_in_threadpool(
            submit_recording, catalog, settings, pvc_id, uploads[0].path, uploads[0].filename, account
        )
    view = consent_result_view(sub.attempt, sub.attempts_left)
    training = await run_in_threadpool(_train_on_consent, request, catalog, settings, pvc_id, sub.attempt.verified)
    return ConsentAnswer(**view.model_dump(), training=training)


def _train_on_consent(
    request: Request, catalog: Catalog, settings: Settings, pvc_id: str, verified: bool
) -> TrainingOnConsent | None:
    """Start a PVC's first training now that its consent is verified, where it was created to; a
    refusal (402: not enough credits, 409: already started) is reported, not raised."""
    pvc = get_pvc(catalog, pvc_id)
    if not (verified and pvc.train_on_consent and pvc.status == PvcStatus.DRAFT):
        return None
    runner: Runner = request.app.state.runner
    try:
        started = runner.start_pvc(catalog, settings, pvc, retry=False, budget=Budget())
    except ProVoiceError as exc:
        status = get_pvc(catalog, pvc_id).status
        again = "retry" if status == PvcStatus.FAILED else "train"
        return TrainingOnConsent(
            started=False, status=status, detail=f"{exc}; start it with POST /fine-tunes/{pvc_id}/{again}"
        )
    return TrainingOnConsent(started=True, status=started.status, detail=None)


@router.post("/{pvc_id}/train", status_code=202)
def train(
    pvc_id: str,
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    request: Request,
    body: TrainingBudget | None = None,
) -> PvcView:
    """Queue a draft (or failed) PVC: 1,000,000 credits are held now and charged only on success.
    Answers at once with status `queued`; poll `GET /fine-tunes/{id}`. Refused (403) until the
    speaker's consent is verified."""
    return _start(request, catalog, settings, get_pvc(catalog, pvc_id, account), retry=False, budget=body)


@router.post("/{pvc_id}/retry", status_code=202)
def retry(
    pvc_id: str,
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    request: Request,
    body: TrainingBudget | None = None,
) -> PvcView:
    """Re-queue a failed PVC: training resumes from its last checkpoint with what is left of its budget."""
    return _start(request, catalog, settings, get_pvc(catalog, pvc_id, account), retry=True, budget=body)


def _start(
    request: Request, catalog: Catalog, settings: Settings, pvc: Pvc, *, retry: bool, budget: TrainingBudget | None
) -> PvcView:
    budget = budget or TrainingBudget()
    runner: Runner = request.app.state.runner
    started = runner.start_pvc(catalog, settings, pvc, retry=retry, budget=Budget(budget.max_steps, budget.max_minutes))
    return pvc_view(catalog, started)
