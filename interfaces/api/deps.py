"""Request dependencies: the app's settings and catalog, and the caller's account from its API key
(the `X-API-Key` header, or the Playground's session cookie with its CSRF token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from interfaces.api.session import CSRF_HEADER, csrf_ok, session_key
from provoice.accounts import account_for_key
from provoice.catalog import Catalog
from provoice.errors import AuthError, CsrfRefused
from provoice.settings import Settings

API_KEY_HEADER = "X-API-Key"

# auto_error=False: a missing key is answered by the domain error handler (401), like a bad one.
api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="an API key from `provoice account create-key`")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_account(request: Request, catalog: CatalogDep,
                    key: Annotated[str | None, Security(api_key_header)]) -> str:
    """The id of the account whose key came with the request; every query is scoped to it.

    A browser signed in to the Playground sends its key in the session cookie instead. A cookie
    goes with any request the browser makes, whoever's page asked for it, so a request that
    changes something must also carry the session's CSRF token in a header (a page of another
    site can neither read the token nor, without CORS, set the header)."""
    if not key and (cookie := session_key(request)):
        if request.method not in SAFE_METHODS and not csrf_ok(cookie, request.headers.get(CSRF_HEADER)):
            raise CsrfRefused(f"the session cookie needs its CSRF token in the {CSRF_HEADER} header; "
                              "reload the Playground page and try again")
        key = cookie
    if not key:
        raise AuthError(f"missing API key: send it in the {API_KEY_HEADER} header "
                        "(create one with `provoice account create-key`)")
    return account_for_key(catalog, key).id


AccountId = Annotated[str, Depends(current_account)]
