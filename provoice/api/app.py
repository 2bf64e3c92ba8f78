"""The FastAPI application: one catalog per app, the API key on every route, typed errors as JSON."""

from __future__ import annotations

from fastapi import FastAPI

from provoice import __version__
from provoice.api import credits, datasets, fine_tunes, tts, voices
from provoice.api.errors import domain_error
from provoice.api.runner import launch_in_thread
from provoice.catalog import Catalog
from provoice.errors import ProVoiceError
from provoice.settings import Settings

DESCRIPTION = """Self-hosted professional voice cloning.

Send an API key (`provoice account create-key`) in the `X-API-Key` header. Every dataset, fine-tune
and voice belongs to one account; another account's ids answer 404. Errors are
`{"error": <type>, "detail": <message>}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The flows started from here (prepare, PVC training) read their settings from the
    environment, so `settings` should be the environment's, as it is by default."""
    settings = settings or Settings()
    app = FastAPI(title="ProVoice", version=__version__, description=DESCRIPTION)
    app.state.settings = settings
    app.state.catalog = Catalog(settings)
    app.state.launch_training = launch_in_thread
    app.add_exception_handler(ProVoiceError, domain_error)
    for module in (datasets, fine_tunes, voices, tts, credits):
        app.include_router(module.router)
    return app
