"""The Playground: the voice owner's web UI, served by the API's own app.

`/` is the home page (the sign-in page when signed out); every other page lives under `/ui/` so
that none can clash with an API route. Pages are rendered on the server (Jinja2); the small script
in `static/playground.js` adds uploads with progress, live updates, consent recording and
streaming synthesis by calling the HTTP API with the session cookie and its CSRF token.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from interfaces.web import actions, pages
from interfaces.web.render import STATIC_DIR

PLAYGROUND_PATH = "/"


def mount(app: FastAPI) -> None:
    """Add the Playground's pages, forms and static files to the API's app."""
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="playground-static")


__all__ = ["PLAYGROUND_PATH", "mount"]
