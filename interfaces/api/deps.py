"""Request dependencies: the app's settings and catalog, and the caller's account from its API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from provoice.accounts import account_for_key
from provoice.catalog import Catalog
from provoice.errors import AuthError
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


def current_account(catalog: CatalogDep, key: Annotated[str | None, Security(api_key_header)]) -> str:
    """The id of the account whose key came with the request; every query is scoped to it."""
    if not key:
        raise AuthError(f"missing API key: send it in the {API_KEY_HEADER} header "
                        "(create one with `provoice account create-key`)")
    return account_for_key(catalog, key).id


AccountId = Annotated[str, Depends(current_account)]
