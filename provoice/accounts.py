"""Accounts and their API keys: a key's secret is shown once, and only its sha256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from provoice.catalog.db import Catalog
from provoice.catalog.models import Account, ApiKey, utcnow
from provoice.errors import AuthError, NotFound

LOCAL_ACCOUNT_ID = "acct_local"
LOCAL_ACCOUNT_NAME = "local"
KEY_SCHEME = "pv_"
PREFIX_CHARS = 8


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def default_account(catalog: Catalog) -> Account:
    """The account the CLI acts as without an API key; the first caller creates it, racers read it."""
    with catalog.session() as s:
        account = s.get(Account, LOCAL_ACCOUNT_ID)
    if account is not None:
        return account
    try:
        with catalog.session() as s:
            account = Account(id=LOCAL_ACCOUNT_ID, name=LOCAL_ACCOUNT_NAME)
            s.add(account)
        return account
    except IntegrityError:
        return get_account(catalog, LOCAL_ACCOUNT_ID)


def create_account(catalog: Catalog, name: str) -> Account:
    with catalog.session() as s:
        account = Account(name=name)
        s.add(account)
    return account


def get_account(catalog: Catalog, account_id: str) -> Account:
    with catalog.session() as s:
        account = s.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id!r}")
    return account


def create_api_key(catalog: Catalog, account_id: str) -> tuple[str, str]:
    """Returns (key id, secret); the secret cannot be recovered later, so show it to the user now."""
    get_account(catalog, account_id)
    secret = KEY_SCHEME + secrets.token_urlsafe(32)
    with catalog.session() as s:
        key = ApiKey(account_id=account_id, key_hash=hash_key(secret), prefix=secret[:PREFIX_CHARS])
        s.add(key)
    return key.id, secret


def list_api_keys(catalog: Catalog, account_id: str) -> list[ApiKey]:
    with catalog.session() as s:
        q = select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.created_at, ApiKey.id)
        return list(s.scalars(q))


def revoke_api_key(catalog: Catalog, key_id: str, account_id: str | None = None) -> ApiKey:
    """Revoking is permanent and keeps the row, so a revoked key is refused by name, not as unknown.
    With `account_id`, only that account's key: another's is NotFound, as an unknown one."""
    with catalog.session() as s:
        key = s.get(ApiKey, key_id)
        if key is None or (account_id is not None and key.account_id != account_id):
            raise NotFound(f"no API key with id {key_id!r}")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
    return key


def account_for_key(catalog: Catalog, secret: str) -> Account:
    """The key's account. Candidates are found by display prefix and matched by a constant-time
    comparison of hashes, so response times say nothing about how close a guess was."""
    if not secret or not secret.startswith(KEY_SCHEME):
        raise AuthError(f"invalid API key: keys start with {KEY_SCHEME!r}")
    digest = hash_key(secret)
    with catalog.session() as s:
        candidates = list(s.scalars(select(ApiKey).where(ApiKey.prefix == secret[:PREFIX_CHARS])))
        match = None
        for key in candidates:
            if hmac.compare_digest(key.key_hash, digest):
                match = key
        if match is None:
            raise AuthError("invalid API key")
        if match.revoked_at is not None:
            raise AuthError(
                f"API key {match.prefix}… ({match.id}) was revoked on {match.revoked_at:%Y-%m-%d}; create a new one"
            )
        account = s.get_one(Account, match.account_id)
    return account
