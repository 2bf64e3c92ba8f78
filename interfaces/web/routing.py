"""Playground routes answer in HTML: a missing sign-in is the sign-in page, a refusal is a page
that says why, with the status the API would give the same refusal (another account's id is 404)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from interfaces.api.errors import status_for
from interfaces.web.render import page
from interfaces.web.visitor import SignInRequired, visitor
from provoice.errors import ProVoiceError


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path if request.method == "GET" else "/"
                return RedirectResponse(f"/ui/sign-in?next={quote(target)}", status_code=303)
            except ProVoiceError as exc:
                return error_page(request, exc)

        return route


def error_page(request: Request, exc: ProVoiceError) -> Response:
    status = status_for(exc)
    try:
        me = visitor(request, request.app.state.catalog)
    except (SignInRequired, ProVoiceError):
        me = None
    title = {404: "Not found", 403: "Refused", 402: "Not enough credits", 409: "Not now"}.get(status, "Cannot do that")
    return page(
        request, "error.html", {"me": me, "title": title, "detail": str(exc), "status": status}, status_code=status
    )
