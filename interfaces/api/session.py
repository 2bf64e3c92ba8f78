"""The Playground's sign-in: the API key in an HttpOnly, SameSite=Strict cookie, and a CSRF token
bound to it.

The token is an HMAC of the key, so it needs no server-side state and cannot be made without the
key. Forms carry it in a hidden `csrf` field; the Playground's scripts send it in `X-CSRF-Token`
when they call the HTTP API with the cookie (`interfaces.api.deps` checks it there).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

SESSION_COOKIE = "provoice_session"
LOGIN_COOKIE = "provoice_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SESSION_DAYS = 14


def csrf_token(session: str) -> str:
    """The CSRF token of a signed-in browser: derived from its key, so a page of another site,
    which can make the browser send the cookie but cannot read it, cannot make the token."""
    return hmac.new(session.encode(), b"provoice-playground-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session: str | None, token: str | None) -> bool:
    return bool(session and token) and hmac.compare_digest(csrf_token(session), token)


def session_key(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def sign_in(response: Response, request: Request, api_key: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        api_key,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/ui/sign-in")


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def login_token(request: Request) -> str:
    """A double-submit token for the sign-in form itself (there is no session to bind it to yet),
    so another site cannot sign a browser into an account of its choosing: the form's copy must
    equal the cookie's (`keep_login_token`)."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def keep_login_token(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui/sign-in",
    )


def login_ok(request: Request, token: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE)
    return bool(cookie and token) and hmac.compare_digest(cookie, token)
