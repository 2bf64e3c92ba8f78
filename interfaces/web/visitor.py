"""Who is looking at a Playground page: the account of the session cookie, or a sign-in first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from interfaces.api.deps import CatalogDep
from interfaces.api.session import CSRF_FIELD, csrf_ok, csrf_token, session_key
from provoice.accounts import account_for_key
from provoice.errors import AuthError, CsrfRefused


class SignInRequired(Exception):
    """No session, or its key no longer opens an account (revoked): the page answers with the sign-in page."""


@dataclass(frozen=True)
class Visitor:
    account_id: str
    account_name: str
    csrf: str


def visitor(request: Request, catalog: CatalogDep) -> Visitor:
    key = session_key(request)
    if not key:
        raise SignInRequired
    try:
        account = account_for_key(catalog, key)
    except AuthError as exc:
        raise SignInRequired(str(exc)) from exc
    return Visitor(account.id, account.name, csrf_token(key))


VisitorDep = Annotated[Visitor, Depends(visitor)]


async def posted_form(request: Request, me: VisitorDep) -> FormData:
    """The form of a POST, refused unless it carries the session's CSRF token."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not csrf_ok(session_key(request), token if isinstance(token, str) else None):
        raise CsrfRefused(
            "this form was not sent from a Playground page of your session (its CSRF token is "
            "missing or wrong); reload the page and try again"
        )
    return form


FormDep = Annotated[FormData, Depends(posted_form)]
