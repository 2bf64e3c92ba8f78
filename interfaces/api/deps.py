"""Request dependencies: the app's settings and catalog, and the caller's account from its API key.

The key comes the way each client sends it: `X-API-Key` (ProVoice, older Cartesia clients),
`Authorization: Bearer KEY` (OpenAI, Cartesia), `xi-api-key` (ElevenLabs), `?api_key=` or
`?access_token=` on a WebSocket (browsers cannot set its headers), or the Playground's session
cookie with its CSRF token. The same accounts, the same 401s."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security, WebSocket
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from interfaces.api.session import CSRF_HEADER, csrf_ok, session_key
from provoice.accounts import account_for_key
from provoice.catalog import Catalog
from provoice.errors import AuthError, CsrfRefused
from provoice.settings import Settings

API_KEY_HEADER = "X-API-Key"

# auto_error=False: a missing key is answered by the domain error handler (401), like a bad one.
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="an API key from `provoice account create-key`"
)
bearer = HTTPBearer(
    auto_error=False, description="the same API key as `Authorization: Bearer KEY` (OpenAI and Cartesia clients)"
)
xi_api_key_header = APIKeyHeader(
    name="xi-api-key", auto_error=False, description="the same API key as ElevenLabs clients send it"
)
WEBSOCKET_KEY_PARAMS = ("api_key", "access_token")
#: The hosted services' routes take a key, never the Playground's cookie: some of their GETs change
#: something (ElevenLabs' captcha makes a new consent prompt), which a cookie would let any page do.
KEY_ONLY_PREFIXES = ("/v1/", "/cartesia/", "/elevenlabs/")
MISSING_KEY = (
    f"missing API key: send it in the {API_KEY_HEADER} header, as `Authorization: Bearer KEY` or "
    "in xi-api-key (create one with `provoice account create-key`)"
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_account(
    request: Request,
    catalog: CatalogDep,
    key: Annotated[str | None, Security(api_key_header)],
    bearer_key: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    xi_key: Annotated[str | None, Security(xi_api_key_header)],
) -> str:
    """The id of the account whose key came with the request; every query is scoped to it.

    A browser signed in to the Playground sends its key in the session cookie instead. A cookie
    goes with any request the browser makes, whoever's page asked for it, so a request that
    changes something must also carry the session's CSRF token in a header (a page of another
    site can neither read the token nor, without CORS, set the header)."""
    key = key or (bearer_key.credentials if bearer_key else None) or xi_key
    if not key and not request.url.path.startswith(KEY_ONLY_PREFIXES) and (cookie := session_key(request)):
        if request.method not in SAFE_METHODS and not csrf_ok(cookie, request.headers.get(CSRF_HEADER)):
            raise CsrfRefused(
                f"the session cookie needs its CSRF token in the {CSRF_HEADER} header; "
                "reload the Playground page and try again"
            )
        key = cookie
    if not key:
        raise AuthError(MISSING_KEY)
    return account_for_key(catalog, key).id


def optional_account(
    request: Request,
    catalog: CatalogDep,
    key: Annotated[str | None, Security(api_key_header)],
    bearer_key: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    xi_key: Annotated[str | None, Security(xi_api_key_header)],
) -> str | None:
    """`current_account` where a listing may also be asked for without any key (None then); a key
    that is sent is checked as everywhere."""
    if not (key or bearer_key or xi_key):
        return None
    return current_account(request, catalog, key, bearer_key, xi_key)


async def websocket_account(websocket: WebSocket) -> str:
    """The account of a WebSocket: its key in any of the headers above, or in the query string."""
    headers = websocket.headers
    authorization = headers.get("authorization", "")
    key = (
        headers.get(API_KEY_HEADER)
        or headers.get("xi-api-key")
        or (authorization[7:].strip() if authorization.lower().startswith("bearer ") else None)
        or next((websocket.query_params[p] for p in WEBSOCKET_KEY_PARAMS if websocket.query_params.get(p)), None)
    )
    if not key:
        raise AuthError(MISSING_KEY + "; a WebSocket may also send ?api_key=KEY")
    return (await run_in_threadpool(account_for_key, websocket.app.state.catalog, key)).id


AccountId = Annotated[str, Depends(current_account)]
OptionalAccountId = Annotated[str | None, Depends(optional_account)]
