"""`POST /bucket-events`: bucket upload notifications become `provoice.dataset.files-uploaded` events.

Self-hosted Prefect has no webhooks, so S3 (directly, through SNS or EventBridge API destinations)
and MinIO post their notifications here. Each dataset with new objects under
`<PROVOICE_UPLOAD_PREFIX><dataset_id>/` gets one event, labelled upload stage `bucket`, with payload
`{"objects": ["s3://<bucket>/<key>", ...], "bucket": <name>}`; the `ingest-upload` deployment reacts
to it by running `ingest-files` on those objects.

The route takes no API key: senders present the shared secret `PROVOICE_BUCKET_EVENTS_SECRET`,
compared in constant time, in one of these forms:
- `Authorization: Bearer <secret>`: MinIO's webhook `auth_token` (MinIO adds `Bearer ` to a
  one-word token; older releases sent the token bare, which is accepted too);
- `X-ProVoice-Secret: <secret>`: EventBridge API destinations and anything else that sets a header;
- `Authorization: Basic ...` with the secret as password: SNS, which takes credentials only in the
  subscription URL (`https://sns:<secret>@host/bucket-events`) and sends them after a 401 challenge.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from interfaces.api.deps import CatalogDep, SettingsDep
from interfaces.api.errors import UploadTooLarge
from interfaces.api.uploads import human_bytes
from provoice.bucket_events import Notification, UploadPlan, parse_body, plan_uploads
from provoice.catalog import Catalog
from provoice.errors import AuthError, NotFound, ProVoiceError
from provoice.events import FILES_UPLOADED, STAGE_BUCKET, UPLOAD_STAGE

log = logging.getLogger(__name__)

ROUTE = "/bucket-events"
SECRET_HEADER = "X-ProVoice-Secret"
SECRET_ENV = "PROVOICE_BUCKET_EVENTS_SECRET"
MAX_BODY_BYTES = 1024 * 1024
# SNS sends credentials only when challenged; the realm is required by it.
CHALLENGE = {"WWW-Authenticate": 'Basic realm="ProVoice bucket events"'}

EventEmitter = Callable[..., None]
"""`tasks.events.emit`'s signature: (event, resource_kind, resource_id, payload, labels=...)."""

# Declared for the OpenAPI page only (they never refuse a request); the check reads the headers itself.
_secret_header = APIKeyHeader(
    name=SECRET_HEADER,
    auto_error=False,
    scheme_name="BucketEventsSecret",
    description=f"the shared secret {SECRET_ENV}",
)
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="BucketEventsBearer",
    description=f"`Authorization: Bearer <{SECRET_ENV}>` (MinIO's webhook auth_token)",
)

router = APIRouter(tags=["bucket events"])


class BucketEventsDisabled(ProVoiceError):
    """The endpoint cannot work as configured: no secret, or nowhere to send events."""


class NotificationTooLarge(UploadTooLarge):
    """A notification body over MAX_BODY_BYTES; reading stopped at the limit."""


def prefect_emitter() -> EventEmitter | None:
    """`tasks.events.emit` when a Prefect API is configured. Without one Prefect would send the events
    to a throwaway local server where no deployment hears them, so the route answers 503 instead."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        return None
    from tasks.events import emit

    return emit


def presented_secrets(authorization: str | None, secret_header: str | None) -> list[str]:
    """Every value the request could mean as the secret, for the forms the module docstring lists."""
    out = [secret_header] if secret_header is not None else []
    if authorization:
        auth = authorization.strip()
        out.append(auth)
        scheme, _, rest = auth.partition(" ")
        if scheme.lower() == "bearer":
            out.append(rest.strip())
        elif scheme.lower() == "basic":
            try:
                out.append(base64.b64decode(rest.strip(), validate=True).decode().partition(":")[2])
            except (binascii.Error, UnicodeDecodeError):
                pass
    return out


def secret_matches(presented: list[str], secret: str) -> bool:
    """Constant time per candidate, and every candidate is compared."""
    expected = secret.encode()
    matched = False
    for value in presented:
        matched |= hmac.compare_digest(value.encode(), expected)
    return matched


def _refusal(exc: ProVoiceError, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=status, headers=headers)


def _check_access(request: Request, secret: str | None) -> JSONResponse | None:
    if not secret:
        return _refusal(
            BucketEventsDisabled(
                f"bucket events are disabled: set {SECRET_ENV} on the API server to a shared secret and "
                "configure the bucket notification to send it"
            ),
            503,
        )
    presented = presented_secrets(request.headers.get("authorization"), request.headers.get(SECRET_HEADER))
    if not presented:
        return _refusal(
            AuthError(
                f"missing bucket events secret: send {SECRET_ENV} as `Authorization: Bearer <secret>` or in "
                f"the {SECRET_HEADER} header (SNS: as the password in the subscription URL)"
            ),
            401,
            CHALLENGE,
        )
    if not secret_matches(presented, secret):
        return _refusal(
            AuthError(f"invalid bucket events secret (it must equal {SECRET_ENV} on the API server)"), 401, CHALLENGE
        )
    if request.app.state.emit_event is None:
        return _refusal(
            BucketEventsDisabled(
                "no Prefect API is configured (set PREFECT_API_URL on the API server), so upload events "
                "could not reach the ingest-upload deployment"
            ),
            503,
        )
    return None


async def _read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    too_large = NotificationTooLarge(f"the notification is larger than the limit of {human_bytes(limit)}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _dataset_exists(catalog: Catalog) -> Callable[[str], bool]:
    def exists(dataset_id: str) -> bool:
        try:
            catalog.get_dataset(dataset_id)
        except NotFound:
            return False
        return True

    return exists


def forward(
    notification: Notification, upload_prefix: str, catalog: Catalog, emit: EventEmitter, buckets: Sequence[str] = ()
) -> UploadPlan:
    """Map the objects of the allowed buckets to datasets and emit one bucket-stage `files-uploaded`
    event per dataset."""
    plan = plan_uploads(notification, upload_prefix, _dataset_exists(catalog), buckets)
    for upload in plan.uploads:
        emit(
            FILES_UPLOADED,
            "dataset",
            upload.dataset_id,
            {"objects": upload.uris, "bucket": upload.bucket},
            labels={UPLOAD_STAGE: STAGE_BUCKET},
        )
        log.info("bucket upload: %d object(s) in %s for dataset %s", len(upload.uris), upload.bucket, upload.dataset_id)
    for ignored in plan.ignored:
        log.info("bucket event ignored: %s: %s", ignored.key or "-", ignored.reason)
    return plan


REQUEST_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": "An S3 event notification (optionally inside an SNS HTTP notification), an "
        "EventBridge `aws.s3` event or MinIO's webhook body; any content type.",
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "Records": [
                        {
                            "eventName": "ObjectCreated:Put",
                            "s3": {
                                "bucket": {"name": "voices"},
                                "object": {"key": "uploads/ds_0123456789ab/take+1.wav", "size": 1024},
                            },
                        }
                    ],
                },
            }
        },
    },
}

DESCRIPTION = f"""Forward bucket uploads to Prefect. Objects under `<PROVOICE_UPLOAD_PREFIX><dataset_id>/`
(default `uploads/`) become one `{FILES_UPLOADED}` event per dataset, with resource label
`{UPLOAD_STAGE}: {STAGE_BUCKET}` and payload `{{"objects": ["s3://<bucket>/<key>", ...], "bucket": "<name>"}}`;
the `ingest-upload` deployment ingests them.

Authentication is the shared secret `{SECRET_ENV}`, not an API key: `Authorization: Bearer <secret>`
(MinIO `auth_token`), a bare `Authorization: <secret>`, `{SECRET_HEADER}: <secret>`, or HTTP Basic with
the secret as password (SNS: `https://sns:<secret>@host{ROUTE}`).

Accepted bodies: S3 event notifications, the same wrapped in SNS (a `SubscriptionConfirmation` is answered
200 with its `subscribe_url` for the operator to open; it is not fetched), EventBridge `Object Created`
events and MinIO webhooks. Non-creation events, test events, keys outside the prefix, folder markers and
unknown datasets are listed under `ignored` with a reason.

Answers 202 `{{"datasets": {{"<dataset_id>": ["s3://...", ...]}}, "ignored": [{{"key": ..., "reason": ...}}]}}`.
"""


class IgnoredObject(BaseModel):
    key: str | None
    reason: str


class ForwardedUploads(BaseModel):
    """The objects forwarded per dataset, and the ones ignored with why."""

    datasets: dict[str, list[str]]
    ignored: list[IgnoredObject]


class SubscriptionPending(BaseModel):
    subscribe_url: str
    topic_arn: str | None
    detail: str


@router.post(
    ROUTE,
    status_code=202,
    response_model=ForwardedUploads,
    summary="Receive bucket upload notifications",
    description=DESCRIPTION,
    openapi_extra=REQUEST_OPENAPI,
    responses={
        200: {
            "model": SubscriptionPending,
            "description": "an SNS SubscriptionConfirmation: open `subscribe_url` to confirm",
        },
        400: {"description": "the body is not a readable bucket notification"},
        401: {"description": "missing or wrong secret"},
        413: {"description": f"the body is over {human_bytes(MAX_BODY_BYTES)}"},
        503: {"description": f"{SECRET_ENV} or PREFECT_API_URL is not set"},
    },
)
async def bucket_events(
    request: Request,
    settings: SettingsDep,
    catalog: CatalogDep,
    _header: Annotated[str | None, Security(_secret_header)] = None,
    _bearer_token: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> ForwardedUploads | JSONResponse:
    refused = _check_access(request, settings.bucket_events_secret)
    if refused is not None:
        return refused
    notification = parse_body(await _read_body(request))
    if notification.subscription is not None:
        sub = notification.subscription
        log.warning(
            "SNS subscription of %s to %s is waiting for confirmation: open %s to confirm it",
            sub.topic_arn or "a topic",
            ROUTE,
            sub.subscribe_url,
        )
        pending = SubscriptionPending(
            subscribe_url=sub.subscribe_url,
            topic_arn=sub.topic_arn,
            detail="SNS subscription not confirmed yet: open subscribe_url to confirm it (ProVoice does not fetch it)",
        )
        return JSONResponse(pending.model_dump(), status_code=200)
    plan = await run_in_threadpool(
        forward,
        notification,
        settings.upload_prefix,
        catalog,
        request.app.state.emit_event,
        settings.bucket_events_buckets,
    )
    return ForwardedUploads(datasets=plan.datasets(), ignored=[IgnoredObject(**i.to_json()) for i in plan.ignored])
