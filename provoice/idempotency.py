"""`Idempotency-Key`: a key binds the whole request it was first used for.

The request is identified by a hash of (account, route, body). A repeat of the same request gets
the stored result back without the work being done or charged again; the same key with another
request is refused (409) before any work; a request still running under the key is refused too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from provoice.catalog import Catalog
from provoice.catalog.models import IdempotentRequest
from provoice.errors import IdempotencyConflict

MAX_KEY_CHARS = 200


def request_hash(account_id: str, route: str, body: Any) -> str:
    canonical = json.dumps(
        {"account": account_id, "route": route, "body": body}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_key(account_id: str, key: str) -> str:
    return f"{account_id}:{key}"


def begin(catalog: Catalog, account_id: str, key: str, digest: str) -> IdempotentRequest | None:
    """None when this is the key's first request (now recorded as pending); the finished record of an
    identical earlier request; IdempotencyConflict otherwise."""
    rkey = record_key(account_id, key)
    try:
        with catalog.session() as s:
            s.add(IdempotentRequest(key=rkey, account_id=account_id, request_hash=digest, status="pending"))
        return None
    except IntegrityError:
        pass
    with catalog.session() as s:
        existing = s.get(IdempotentRequest, rkey)
    if existing is None:  # abandoned in between: try once more
        return begin(catalog, account_id, key, digest)
    if existing.request_hash != digest:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used for a different request; use a new key for a new request"
        )
    if existing.status != "done":
        raise IdempotencyConflict(f"a request with Idempotency-Key {key!r} is still running; retry it later")
    return existing


def complete(catalog: Catalog, account_id: str, key: str, result_key: str, media_type: str) -> None:
    with catalog.session() as s:
        row = s.get_one(IdempotentRequest, record_key(account_id, key))
        row.status, row.result_key, row.media_type = "done", result_key, media_type


def abandon(catalog: Catalog, account_id: str, key: str) -> None:
    """Forget a request that failed, so the client may retry it under the same key."""
    with catalog.session() as s:
        row = s.get(IdempotentRequest, record_key(account_id, key))
        if row is not None and row.status == "pending":
            s.delete(row)
