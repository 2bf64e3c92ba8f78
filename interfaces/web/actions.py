"""The Playground's forms (POST, each with the session's CSRF token): sign in and out, datasets,
PVCs, consent prompts, and starting or re-attempting training. Each answers with a redirect to the
page that shows the result (post/redirect/get), or with that page and the refusal's reason."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from interfaces.api.deps import CatalogDep, SettingsDep
from interfaces.api.errors import status_for
from interfaces.api.runner import Runner
from interfaces.api.scope import owned_dataset
from interfaces.api.session import login_ok, sign_in, sign_out
from interfaces.web.pages import local_path, pvc_context, sign_in_form
from interfaces.web.render import page
from interfaces.web.routing import PageRoute
from interfaces.web.visitor import FormDep, Visitor, VisitorDep
from provoice.accounts import account_for_key
from provoice.catalog import Catalog
from provoice.consent import new_prompt
from provoice.errors import AuthError, CsrfRefused, InvalidSource, ProVoiceError
from provoice.pvc.budget import Budget, checked_budget
from provoice.pvc.service import create_pvc, get_pvc
from provoice.settings import Settings
from provoice.voice_models import BaseModelRegistry

router = APIRouter(route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.post("/ui/sign-in")
async def sign_in_post(request: Request, catalog: CatalogDep) -> Response:
    form = await request.form()
    nxt = _text(form, "next") or "/"
    if not login_ok(request, _text(form, "login")):
        raise CsrfRefused("the sign-in form was not sent from this site's sign-in page; reload it and try again")
    key = _text(form, "api_key")
    try:
        account_for_key(catalog, key)
    except AuthError as exc:
        return sign_in_form(request, nxt, f"That API key does not open an account: {exc}.", status_code=401)
    response = _see(local_path(nxt))
    sign_in(response, request, key)
    return response


@router.post("/ui/sign-out")
def sign_out_post(form: FormDep) -> Response:
    response = _see("/ui/sign-in")
    sign_out(response)
    return response


@router.post("/ui/datasets")
def create_dataset(form: FormDep, me: VisitorDep, catalog: CatalogDep) -> Response:
    name = _text(form, "name")
    if not name:
        raise InvalidSource("give the dataset a name")
    return _see(f"/ui/datasets/{catalog.create_dataset(name, account_id=me.account_id).id}")


@router.post("/ui/datasets/{dataset_id}/prepare")
def prepare(dataset_id: str, request: Request, form: FormDep, me: VisitorDep, catalog: CatalogDep) -> Response:
    owned_dataset(catalog, dataset_id, me.account_id)
    runner: Runner = request.app.state.runner
    runner.start_prepare(dataset_id)
    return _see(f"/ui/datasets/{dataset_id}")


@router.post("/ui/datasets/{dataset_id}/files/{file_id}/remove")
def remove_file(dataset_id: str, file_id: str, form: FormDep, me: VisitorDep, catalog: CatalogDep) -> Response:
    owned_dataset(catalog, dataset_id, me.account_id)
    catalog.remove_file(dataset_id, file_id)
    return _see(f"/ui/datasets/{dataset_id}")


def _budget(form: FormData) -> Budget:
    def number(name: str, kind: type):
        raw = _text(form, name)
        if not raw:
            return None
        try:
            return kind(raw)
        except ValueError:
            raise InvalidSource(
                f"the training budget's {name.replace('_', ' ')} must be a number, not {raw!r}"
            ) from None

    return Budget(number("max_steps", int), number("max_minutes", float))


@router.post("/ui/pvcs")
def create(request: Request, form: FormDep, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep) -> Response:
    """A draft PVC on an uploaded or chosen dataset; its data is prepared at once when it has new files."""
    dataset_id = _text(form, "existing_dataset") if _text(form, "source") == "select" else _text(form, "dataset_id")
    if not dataset_id:
        raise InvalidSource("choose a dataset, or upload files for a new one")
    owned_dataset(catalog, dataset_id, me.account_id)
    budget = checked_budget(settings, _budget(form))
    base = BaseModelRegistry(settings, catalog).get(_text(form, "base_model_id") or "latest")
    pvc = create_pvc(
        catalog,
        me.account_id,
        dataset_id,
        _text(form, "name"),
        base.id,
        language=_text(form, "language") or "en",
        description=_text(form, "description"),
        speaker_name=_text(form, "speaker_name") or None,
        settings=settings,
        max_steps=budget.max_steps,
        max_minutes=budget.max_minutes,
    )
    files = catalog.files(dataset_id)
    if any(f.status == "pending" for f in files) or (files and catalog.latest_run(dataset_id) is None):
        request.app.state.runner.start_prepare(dataset_id)
    return _see(f"/ui/pvcs/{pvc.id}")


def _start(request: Request, pvc_id: str, me: Visitor, catalog: Catalog, settings: Settings, retry: bool) -> Response:
    pvc = get_pvc(catalog, pvc_id, me.account_id)
    runner: Runner = request.app.state.runner
    try:
        runner.start_pvc(catalog, settings, pvc, retry=retry, budget=Budget())
    except ProVoiceError as exc:
        context = pvc_context(settings, catalog, me, pvc_id)
        return page(request, "pvc.html", {**context, "error": str(exc)}, status_code=status_for(exc))
    return _see(f"/ui/pvcs/{pvc_id}")


@router.post("/ui/pvcs/{pvc_id}/train")
def train(
    pvc_id: str, request: Request, form: FormDep, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    return _start(request, pvc_id, me, catalog, settings, retry=False)


@router.post("/ui/pvcs/{pvc_id}/retry")
def retry(
    pvc_id: str, request: Request, form: FormDep, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep
) -> Response:
    """Re-attempt training: resumes from the last checkpoint with what is left of the budget."""
    return _start(request, pvc_id, me, catalog, settings, retry=True)


@router.post("/ui/pvcs/{pvc_id}/consent/prompt")
def consent_prompt(pvc_id: str, form: FormDep, me: VisitorDep, catalog: CatalogDep, settings: SettingsDep) -> Response:
    new_prompt(catalog, settings, pvc_id, me.account_id)
    return _see(f"/ui/pvcs/{pvc_id}#consent")
