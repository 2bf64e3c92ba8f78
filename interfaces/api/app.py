"""The FastAPI application: one catalog per app, the API key on every route, typed errors as JSON.

`/docs` and `/redoc` load Swagger UI and ReDoc from the installed `fastapi-offline` package, so they
work on a self-hosted box without internet.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import InterfaceError, OperationalError

from interfaces.api import account, bucket_events, credits, datasets, fine_tunes, tts, voices
from interfaces.api.compat import OPENAPI_TAGS as COMPATIBLE_TAGS
from interfaces.api.compat import ROUTERS as COMPATIBLE_ROUTERS
from interfaces.api.errors import ERROR_RESPONSES, database_unavailable, domain_error, missing_module
from interfaces.api.limits import BodyLimits, validation_error
from interfaces.api.runner import Runner
from provoice import __version__
from provoice.catalog import Catalog
from provoice.errors import ProVoiceError
from provoice.settings import Settings

DESCRIPTION = """Self-hosted professional voice cloning.

Send an API key (`provoice account create-key`) in the `X-API-Key` header, as `Authorization: Bearer
KEY` or in `xi-api-key` (a WebSocket may also take `?api_key=KEY`). The Playground (`/`)
signs a browser in with the same key, kept in a session cookie; with the cookie, a request that
changes something also needs the session's CSRF token in `X-CSRF-Token`. Every dataset, fine-tune
and voice belongs to one account; another account's ids answer 404. Errors are
`{"error": <type>, "detail": <message>}`.

The official clients of the hosted services work unmodified with their base URL pointed here (their
routes have their own tags below, and answer errors in each service's shape): OpenAI
`http://HOST:PORT/v1`, Cartesia `http://HOST:PORT/cartesia`, ElevenLabs `http://HOST:PORT/elevenlabs`.
Speech on every route is metered as `POST /tts`: held first, charged for the audio delivered.

`POST /bucket-events` is the exception: bucket notifications (S3, SNS, EventBridge, MinIO) authenticate
with the shared secret `PROVOICE_BUCKET_EVENTS_SECRET` instead of an API key.
"""


def create_app(settings: Settings) -> FastAPI:
    """The app for `settings`, which its caller (`provoice api`, a test) read. The flows started from
    here (prepare, PVC training) read theirs from the environment at their entry, so `settings`
    should be the environment's."""
    app = FastAPIOffline(title="ProVoice", version=__version__, description=DESCRIPTION, openapi_tags=COMPATIBLE_TAGS)
    app.state.settings = settings
    app.state.catalog = Catalog(settings)
    # Where training and preparation run: Prefect deployments when an API is configured; tests swap it.
    app.state.runner = Runner.for_environment(settings)
    # How bucket uploads reach Prefect (`tasks.events.emit`, or None without a Prefect API); tests swap it.
    app.state.emit_event = bucket_events.prefect_emitter()
    app.add_exception_handler(ProVoiceError, domain_error)
    app.add_exception_handler(ModuleNotFoundError, missing_module)
    for lost_database in (OperationalError, InterfaceError):
        app.add_exception_handler(lost_database, database_unavailable)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(BodyLimits, max_bytes=settings.max_json_bytes, max_depth=settings.max_json_depth)
    for module in (datasets, fine_tunes, voices, tts, credits, account, bucket_events):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    for router in COMPATIBLE_ROUTERS:
        app.include_router(router)
    from interfaces.web import mount

    mount(app)
    return app
