"""`/fine-tunes`: pro voice clones. Creating one makes a draft; `train` and `retry` start the parent
flow in the background and answer 202 at once, after the checks a user should hear about now
(status 409, credits 402). The flow itself claims the PVC, so of two racing starts one runs.
`PATCH` turns retraining on new base models on or off; `/retrains` lists its decisions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import AnyHttpUrl, BaseModel, Field

from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.runner import Launcher
from interfaces.api.scope import owned_dataset
from provoice.catalog import Catalog, Pvc
from provoice.credits import PVC_TRAINING_CREDITS, require_balance
from provoice.pvc.retrain import decisions
from provoice.pvc.service import PvcRefused, create_pvc, get_pvc, list_pvcs, set_auto_retrain
from provoice.views import PvcView, RetrainView, pvc_view, pvc_views
from provoice.voice_models import BaseModelRegistry

router = APIRouter(prefix="/fine-tunes", tags=["fine-tunes"])


class NewFineTune(BaseModel):
    dataset_id: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    base_model_id: str | None = Field(None, description="default: the latest base model")
    language: str = Field("en", min_length=2, max_length=16)
    description: str = Field("", max_length=5000)
    webhook_url: AnyHttpUrl | None = Field(None, description="told when the PVC completes or fails")
    auto_retrain: bool = Field(False, description="retrain on each new base model; the new model replaces "
                                                  "the old one only if it is not worse (no credits charged)")


class FineTuneChange(BaseModel):
    auto_retrain: bool = Field(description="retrain on each new base model (no credits charged)")


class TrainingBudget(BaseModel):
    max_steps: int | None = Field(None, ge=1)
    max_minutes: float | None = Field(None, gt=0, description="default (with no max_steps): PROVOICE_PVC_TRAIN_MINUTES")


@router.post("", status_code=201)
def create_fine_tune(body: NewFineTune, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> PvcView:
    owned_dataset(catalog, body.dataset_id, account)
    base = BaseModelRegistry(settings, catalog).get(body.base_model_id or "latest")
    pvc = create_pvc(catalog, account, body.dataset_id, body.name, base.id, language=body.language,
                     description=body.description, webhook_url=body.webhook_url and str(body.webhook_url),
                     auto_retrain=body.auto_retrain)
    return pvc_view(catalog, pvc)


@router.get("")
def list_fine_tunes(account: AccountId, catalog: CatalogDep) -> list[PvcView]:
    return pvc_views(catalog, list_pvcs(catalog, account))


@router.get("/{pvc_id}")
def show_fine_tune(pvc_id: str, account: AccountId, catalog: CatalogDep) -> PvcView:
    return pvc_view(catalog, get_pvc(catalog, pvc_id, account))


@router.patch("/{pvc_id}")
def change_fine_tune(pvc_id: str, body: FineTuneChange, account: AccountId, catalog: CatalogDep) -> PvcView:
    """Turn retraining on new base models on or off; see `latest_retrain` for the last decision."""
    return pvc_view(catalog, set_auto_retrain(catalog, pvc_id, body.auto_retrain, account))


@router.get("/{pvc_id}/retrains")
def list_retrains(pvc_id: str, account: AccountId, catalog: CatalogDep) -> list[RetrainView]:
    """Every retrain decision of the PVC (promoted, kept or failed, with the reason), oldest first."""
    get_pvc(catalog, pvc_id, account)
    return [RetrainView.of(r) for r in decisions(catalog, pvc_id)]


@router.post("/{pvc_id}/train", status_code=202)
def train(pvc_id: str, account: AccountId, catalog: CatalogDep, request: Request,
          body: TrainingBudget | None = None) -> PvcView:
    """Start a draft (or failed) PVC; poll `GET /fine-tunes/{id}` for its step and status."""
    return _start(request, catalog, get_pvc(catalog, pvc_id, account), retry=False, budget=body)


@router.post("/{pvc_id}/retry", status_code=202)
def retry(pvc_id: str, account: AccountId, catalog: CatalogDep, request: Request,
          body: TrainingBudget | None = None) -> PvcView:
    """Re-run a failed PVC: training resumes from its last checkpoint, finished steps are not repeated."""
    return _start(request, catalog, get_pvc(catalog, pvc_id, account), retry=True, budget=body)


def refusal(pvc: Pvc, retry: bool) -> str | None:
    """Why the PVC cannot start now, in the words `claim` would use, or None."""
    if pvc.status == "training":
        return f"PVC {pvc.id} is already training (attempt {pvc.attempts}, step: {pvc.step})"
    if pvc.status == "completed":
        return (f"PVC {pvc.id} is completed with model {pvc.model_id}; it cannot be "
                f"{'retried' if retry else 'trained again'} (retraining on a newer base model creates a new model)")
    if retry and pvc.status == "draft":
        return f"PVC {pvc.id} has not been trained yet: POST /fine-tunes/{pvc.id}/train"
    return None


def _start(request: Request, catalog: Catalog, pvc: Pvc, *, retry: bool, budget: TrainingBudget | None) -> PvcView:
    reason = refusal(pvc, retry)
    if reason:
        raise PvcRefused(reason)
    require_balance(catalog, pvc.account_id, PVC_TRAINING_CREDITS, purpose=f"training PVC {pvc.id}")
    budget = budget or TrainingBudget()
    launch: Launcher = request.app.state.launch_training
    launch(pvc.id, retry=retry, max_steps=budget.max_steps, max_minutes=budget.max_minutes)
    return pvc_view(catalog, pvc)
