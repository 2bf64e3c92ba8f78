"""`/account/keys`: the caller's own API keys, listed and revoked (created with `provoice account
create-key`, since a key is needed to call the API at all)."""

from __future__ import annotations

from fastapi import APIRouter

from interfaces.api.deps import AccountId, CatalogDep
from provoice.accounts import list_api_keys, revoke_api_key
from provoice.views import ApiKeyView

router = APIRouter(prefix="/account", tags=["account"])


@router.get("/keys")
def account_keys(account: AccountId, catalog: CatalogDep) -> list[ApiKeyView]:
    """Your API keys, oldest first: id, the secret's first characters, and when revoked. Never a secret."""
    return [ApiKeyView.of(k) for k in list_api_keys(catalog, account)]


@router.delete("/keys/{key_id}")
def revoke_account_key(key_id: str, account: AccountId, catalog: CatalogDep) -> ApiKeyView:
    """Revoke one of your API keys for good: requests with it are refused (401) from then on, this
    request's own key included. Another account's key answers 404; revoking again changes nothing."""
    return ApiKeyView.of(revoke_api_key(catalog, key_id, account))
