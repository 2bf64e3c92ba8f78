"""Professional Voice Cloning: `voices.pvc.create` makes a dataset and a draft PVC on the latest base
model; samples are that dataset's files (uploading them starts their preparation, which the
verification needs); the captcha is ProVoice's consent prompt and its recording the consent
reading; `train` starts the PVC (403 until the consent is verified)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from interfaces.api.compat.elevenlabs.errors import Refused, SamplesNotReady
from interfaces.api.compat.elevenlabs.voices import Sample
from interfaces.api.deps import AccountId, CatalogDep, SettingsDep
from interfaces.api.errors import BadUpload
from interfaces.api.ingest import store_uploads
from interfaces.api.runner import Runner
from interfaces.api.uploads import UPLOAD_OPENAPI, Limits, receive_files
from provoice.catalog import Catalog, PreparationStatus, Pvc
from provoice.consent import ConsentRefused, ConsentRequired, new_prompt, submit_recording
from provoice.errors import InvalidSource, NotFound, TransientError
from provoice.pvc.budget import Budget
from provoice.pvc.service import PvcRefused, create_pvc, get_pvc
from provoice.voice_models import BaseModelRegistry

log = logging.getLogger(__name__)


class NewProfessionalVoice(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    language: str = Field(min_length=2, max_length=16, description="what the samples are spoken in")
    description: str | None = Field(None, max_length=5000)
    labels: dict[str, str | None] | None = Field(None, description="accepted and not kept")


class AddedVoice(BaseModel):
    voice_id: str = Field(description="the professional voice's id (a ProVoice PVC id)")


class Done(BaseModel):
    status: str


class Captcha(BaseModel):
    """What the speaker reads aloud for `captcha.verify` (the client discards the body: read it with
    `.with_raw_response`)."""

    text: str
    expires_at: int = Field(description="Unix time after which the text can no longer be used")
    attempts_left: int


class Verification(BaseModel):
    status: Literal["verified", "refused"]
    reason: str | None = Field(description="why the recording was refused")
    attempts_left: int
    transcript: str | None = Field(description="what was heard")


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_id: str | None = Field(None, description="accepted and ignored: the base model was fixed at creation")


CAPTCHA_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["recording"],
                    "properties": {"recording": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}

router = APIRouter()


def owned_pvc(catalog: Catalog, voice_id: str, account: str) -> Pvc:
    """The professional voice (PVC) `voice_id`, or NotFound saying where the ids come from."""
    try:
        return get_pvc(catalog, voice_id, account)
    except NotFound:
        raise NotFound(
            f"no professional voice with id {voice_id!r} in this account: create one with "
            "voices.pvc.create (POST v1/voices/pvc)"
        ) from None


def prepare_pending(runner: Runner, catalog: Catalog, dataset_id: str) -> None:
    """Start preparing the dataset when it has files not prepared yet (the verification compares the
    recording with the prepared samples' voice). Not starting is logged: the upload itself is done,
    and `captcha.verify` starts it again."""
    if any(f.status == "pending" for f in catalog.files(dataset_id)):
        try:
            runner.start_prepare(dataset_id)
        except TransientError as exc:
            log.warning("preparing dataset %s did not start after an upload: %s", dataset_id, exc)


def samples_ready(runner: Runner, catalog: Catalog, dataset_id: str) -> None:
    """The samples have a completed preparation, or SamplesNotReady saying what to do; a preparation
    is started if none is running (one after an upload may not have started)."""
    if catalog.latest_run(dataset_id) is not None:
        return
    if not catalog.files(dataset_id):
        raise SamplesNotReady(
            "the voice has no samples to compare the recording with: upload the speaker's "
            "recordings with voices.pvc.samples.create first"
        )
    if catalog.latest_run(dataset_id, status=PreparationStatus.RUNNING) is None:
        runner.start_prepare(dataset_id)
    raise SamplesNotReady(
        "the samples are still being prepared (the recording is compared with their voice): "
        "send the recording again in a minute"
    )


@router.post("/v1/voices/pvc")
def create_voice(
    body: NewProfessionalVoice, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> AddedVoice:
    """`voices.pvc.create`: a dataset for its samples and a draft PVC on the latest base model."""
    if body.language not in settings.languages:
        raise InvalidSource(
            f"language {body.language!r} is not supported: ProVoice speaks "
            f"{', '.join(settings.languages)} (PROVOICE_LANGUAGES)"
        )
    base = BaseModelRegistry(settings, catalog).get("latest")
    dataset = catalog.create_dataset(body.name, account_id=account)
    pvc = create_pvc(
        catalog,
        account,
        dataset.id,
        body.name,
        base.id,
        language=body.language,
        description=body.description or "",
        settings=settings,
    )
    return AddedVoice(voice_id=pvc.id)


@router.post(
    "/v1/voices/pvc/{voice_id}/samples",
    openapi_extra=UPLOAD_OPENAPI,
    responses={
        413: {"description": "over the limit per file, per request or per account"},
        415: {"description": "every file is in an unsupported format"},
    },
)
async def add_samples(
    voice_id: str, request: Request, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> list[Sample]:
    """`voices.pvc.samples.create`: the files (multipart, one `files` part each) join the voice's
    dataset under the native upload's limits, each with its status; their preparation starts.
    `remove_background_noise` is not applied: the quality check rejects noisy segments instead."""
    pvc = await run_in_threadpool(owned_pvc, catalog, voice_id, account)
    used = await run_in_threadpool(catalog.account_bytes, account)
    with tempfile.TemporaryDirectory(prefix="provoice-upload-") as tmp:
        uploads = await receive_files(request, Path(tmp), Limits.for_dataset_files(settings, used))
        files = await run_in_threadpool(store_uploads, catalog, settings, pvc.dataset_id, uploads)
    await run_in_threadpool(prepare_pending, request.app.state.runner, catalog, pvc.dataset_id)
    return [Sample.of(f) for f in files]


@router.delete("/v1/voices/pvc/{voice_id}/samples/{sample_id}")
def remove_sample(voice_id: str, sample_id: str, account: AccountId, catalog: CatalogDep) -> Done:
    """`voices.pvc.samples.delete`: the file leaves the voice's dataset (a training started before keeps it)."""
    catalog.remove_file(owned_pvc(catalog, voice_id, account).dataset_id, sample_id)
    return Done(status="ok")


@router.get("/v1/voices/pvc/{voice_id}/captcha")
def captcha(voice_id: str, account: AccountId, catalog: CatalogDep, settings: SettingsDep) -> Captcha:
    """`voices.pvc.verification.captcha.get`: a new consent statement for the speaker to read aloud,
    naming them and the account, with one-time words; it replaces any earlier one."""
    prompt = new_prompt(catalog, settings, owned_pvc(catalog, voice_id, account).id, account)
    return Captcha(
        text=prompt.prompt,
        expires_at=int(prompt.expires_at.timestamp()),
        attempts_left=prompt.max_attempts - prompt.attempts_used,
    )


@router.post(
    "/v1/voices/pvc/{voice_id}/captcha",
    openapi_extra=CAPTCHA_UPLOAD,
    responses={413: {"description": "over PROVOICE_CONSENT_MAX_BYTES"}},
)
async def verify_captcha(
    voice_id: str, request: Request, account: AccountId, catalog: CatalogDep, settings: SettingsDep
) -> Verification:
    """`voices.pvc.verification.captcha.verify`: the speaker's reading of the captcha text (one
    `recording` part) is ProVoice's consent recording; `status` says `verified` or `refused` with
    the reason (each recording counts against the text's attempts)."""
    pvc = await run_in_threadpool(owned_pvc, catalog, voice_id, account)
    await run_in_threadpool(samples_ready, request.app.state.runner, catalog, pvc.dataset_id)
    with tempfile.TemporaryDirectory(prefix="provoice-consent-") as tmp:
        uploads = await receive_files(request, Path(tmp), Limits.single(settings.consent_max_bytes))
        if len(uploads) != 1:
            raise BadUpload(f"send one `recording`, not {len(uploads)} files")
        try:
            sub = await run_in_threadpool(
                submit_recording, catalog, settings, pvc.id, uploads[0].path, uploads[0].filename, account
            )
        except ConsentRefused as exc:
            raise Refused(f"{exc}; get a new text with voices.pvc.verification.captcha.get") from exc
    attempt = sub.attempt
    return Verification(
        status="verified" if attempt.verified else "refused",
        reason=attempt.reason,
        attempts_left=sub.attempts_left,
        transcript=attempt.transcript,
    )


@router.post(
    "/v1/voices/pvc/{voice_id}/train",
    responses={
        402: {"description": "the available credits do not cover the training hold"},
        403: {"description": "the speaker's consent (the captcha) is not verified"},
    },
)
def train(
    voice_id: str,
    request: Request,
    account: AccountId,
    catalog: CatalogDep,
    settings: SettingsDep,
    body: TrainRequest | None = None,
) -> Done:
    """`voices.pvc.train`: start fine-tuning as `POST /fine-tunes/{id}/train` does (the credit hold
    placed, never without the speaker's verified consent); `voices.get` shows its progress."""
    pvc = owned_pvc(catalog, voice_id, account)
    runner: Runner = request.app.state.runner
    try:
        runner.start_pvc(catalog, settings, pvc, retry=False, budget=Budget())
    except ConsentRequired as exc:
        raise ConsentRequired(
            f"{exc}. With this API: voices.pvc.verification.captcha.get gives the text to read, "
            "captcha.verify takes the recording"
        ) from exc
    except PvcRefused as exc:
        raise Refused(str(exc)) from exc
    return Done(status="ok")
