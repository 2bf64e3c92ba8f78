"""Accounts and API keys: the local default account, hashed keys, revocation."""

import hashlib
import threading

import pytest
from sqlalchemy import select

from provoice.accounts import (
    LOCAL_ACCOUNT_ID,
    account_for_key,
    create_account,
    create_api_key,
    default_account,
    list_api_keys,
    revoke_api_key,
)
from provoice.catalog.models import Account, ApiKey
from provoice.errors import AuthError, NotFound

pytestmark = pytest.mark.both_databases


def test_default_account_is_created_once_even_concurrently(catalog):
    barrier = threading.Barrier(8)
    ids, errors = [], []

    def get():
        barrier.wait()
        try:
            ids.append(default_account(catalog).id)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and ids == [LOCAL_ACCOUNT_ID] * 8
    assert default_account(catalog).id == LOCAL_ACCOUNT_ID
    with catalog.session() as s:
        assert list(s.scalars(select(Account.id))) == [LOCAL_ACCOUNT_ID]


def test_keys_are_stored_hashed_and_resolve_to_their_account(catalog, settings):
    alice, bob = create_account(catalog, "alice"), create_account(catalog, "bob")
    key_id, secret = create_api_key(catalog, alice.id)
    _, bob_secret = create_api_key(catalog, bob.id)
    assert secret.startswith("pv_") and len(secret) > 40
    assert account_for_key(catalog, secret).id == alice.id
    assert account_for_key(catalog, bob_secret).id == bob.id
    (row,) = list_api_keys(catalog, alice.id)
    assert row.id == key_id and row.prefix == secret[:8]
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    db_bytes = b"".join(p.read_bytes() for p in (settings.home).glob("catalog.db*"))
    assert secret.encode() not in db_bytes and secret[8:].encode() not in db_bytes


def test_wrong_malformed_and_revoked_keys_are_refused(catalog):
    account = create_account(catalog, "alice")
    key_id, secret = create_api_key(catalog, account.id)
    for bad in ("", "Bearer x", secret[:-1] + ("A" if secret[-1] != "A" else "B")):
        with pytest.raises(AuthError, match="invalid API key"):
            account_for_key(catalog, bad)
    revoke_api_key(catalog, key_id)
    with pytest.raises(AuthError, match=rf"API key {secret[:8]}… \({key_id}\) was revoked"):
        account_for_key(catalog, secret)
    _, fresh = create_api_key(catalog, account.id)
    assert account_for_key(catalog, fresh).id == account.id


def test_keys_sharing_a_display_prefix_still_resolve(catalog):
    alice, mallory = create_account(catalog, "alice"), create_account(catalog, "mallory")
    _, secret = create_api_key(catalog, alice.id)
    with catalog.session() as s:
        s.add(ApiKey(account_id=mallory.id, key_hash="0" * 64, prefix=secret[:8]))
    assert account_for_key(catalog, secret).id == alice.id


def test_unknown_ids_are_not_found(catalog):
    with pytest.raises(NotFound, match="acct_nope"):
        create_api_key(catalog, "acct_nope")
    with pytest.raises(NotFound, match="key_nope"):
        revoke_api_key(catalog, "key_nope")


def test_an_owner_revokes_only_its_own_keys(catalog):
    alice, bob = create_account(catalog, "alice"), create_account(catalog, "bob")
    alice_key, _ = create_api_key(catalog, alice.id)
    bob_key, bob_secret = create_api_key(catalog, bob.id)
    with pytest.raises(NotFound, match=f"no API key with id '{bob_key}'"):
        revoke_api_key(catalog, bob_key, alice.id)
    assert account_for_key(catalog, bob_secret).id == bob.id
    assert revoke_api_key(catalog, alice_key, alice.id).revoked_at is not None
