"""The credit ledger: append-only entries in milli-credits; each charge lands once per idempotency key.

Exactly-once rests on the database, not on a check-then-insert: the entry is inserted and a
UNIQUE violation on its idempotency key means another caller (a retried task, a second process)
got there first, whose entry is returned instead.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from provoice.catalog.db import Catalog
from provoice.catalog.models import MILLI_CREDITS, Account, CreditEntry
from provoice.errors import IdempotencyConflict, InsufficientCredits, NotFound

PVC_TRAINING_CREDITS = 1_000_000
TTS_CREDITS_PER_CHARACTER = Decimal("1.5")

Credits = Decimal | int | str


def to_milli(credits: Credits) -> int:
    """Credits as an exact integer of milli-credits; more than 3 decimal places is an error."""
    try:
        value = Decimal(str(credits))
    except InvalidOperation:
        raise ValueError(f"not a number of credits: {credits!r}") from None
    milli = value * MILLI_CREDITS
    if not milli.is_finite() or milli != milli.to_integral_value():
        raise ValueError(f"credits must be finite with at most 3 decimal places, got {credits!r}")
    return int(milli)


def format_credits(credits: Credits) -> str:
    """`1000000` -> "1,000,000", `1.50` -> "1.5"."""
    value = Decimal(str(credits))
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,}"


def tts_cost(text: str) -> Decimal:
    """Characters are counted after NFC normalisation, so "é" costs the same however it was typed."""
    return len(unicodedata.normalize("NFC", text)) * TTS_CREDITS_PER_CHARACTER


def balance(catalog: Catalog, account_id: str) -> Decimal:
    _require_account(catalog, account_id)
    with catalog.session() as s:
        milli = s.scalar(select(func.coalesce(func.sum(CreditEntry.amount), 0))
                         .where(CreditEntry.account_id == account_id))
    return Decimal(int(milli)) / MILLI_CREDITS


def history(catalog: Catalog, account_id: str) -> list[CreditEntry]:
    """Oldest first."""
    _require_account(catalog, account_id)
    with catalog.session() as s:
        q = (select(CreditEntry).where(CreditEntry.account_id == account_id)
             .order_by(CreditEntry.created_at, CreditEntry.id))
        return list(s.scalars(q))


def charged_credits(catalog: Catalog, account_id: str, reference: str, kind: str | None = None) -> Decimal:
    """Credits the account was charged against a reference (a PVC id), as a positive number."""
    q = select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
        CreditEntry.account_id == account_id, CreditEntry.reference == reference, CreditEntry.amount < 0)
    if kind is not None:
        q = q.where(CreditEntry.kind == kind)
    with catalog.session() as s:
        milli = s.scalar(q)
    return -Decimal(int(milli)) / MILLI_CREDITS


def grant(catalog: Catalog, account_id: str, credits: Credits, idempotency_key: str | None = None,
          reference: str | None = None) -> CreditEntry:
    """Add credits; with an idempotency key, repeating the grant adds nothing."""
    amount = to_milli(credits)
    if amount <= 0:
        raise ValueError(f"a grant must be positive, got {credits!r}")
    return _append(catalog, CreditEntry(account_id=account_id, amount=amount, kind="grant",
                                        reference=reference, idempotency_key=idempotency_key))


def debit(catalog: Catalog, account_id: str, credits: Credits, kind: str, reference: str | None,
          idempotency_key: str) -> CreditEntry:
    """Charge once per idempotency key, however often or concurrently this is called; the entry
    that landed is returned. The balance is not checked here: work already done is charged even
    if it overdraws, so call `require_balance` before starting the work."""
    amount = to_milli(credits)
    if amount <= 0:
        raise ValueError(f"a charge must be positive, got {credits!r}")
    if not idempotency_key:
        raise ValueError("a charge needs an idempotency key")
    return _append(catalog, CreditEntry(account_id=account_id, amount=-amount, kind=kind,
                                        reference=reference, idempotency_key=idempotency_key))


def require_balance(catalog: Catalog, account_id: str, credits: Credits, purpose: str = "") -> Decimal:
    """The balance, when it covers `credits`; otherwise InsufficientCredits saying by how much."""
    needed = Decimal(to_milli(credits)) / MILLI_CREDITS
    current = balance(catalog, account_id)
    if current < needed:
        who = f"{purpose} " if purpose else ""
        raise InsufficientCredits(
            f"{who}needs {format_credits(needed)} credits, balance is {format_credits(current)}; "
            f"add credits with `provoice credits grant`")
    return current


def _require_account(catalog: Catalog, account_id: str) -> None:
    with catalog.session() as s:
        if s.get(Account, account_id) is None:
            raise NotFound(f"no account with id {account_id!r}")


def _append(catalog: Catalog, entry: CreditEntry) -> CreditEntry:
    _require_account(catalog, entry.account_id)
    try:
        with catalog.session() as s:
            s.add(entry)
        return entry
    except IntegrityError:
        if entry.idempotency_key is None:
            raise
        with catalog.session() as s:
            existing = s.scalars(select(CreditEntry).where(
                CreditEntry.idempotency_key == entry.idempotency_key)).one_or_none()
        if existing is None:
            raise
    if (existing.account_id, existing.amount, existing.kind) != (entry.account_id, entry.amount, entry.kind):
        raise IdempotencyConflict(
            f"idempotency key {entry.idempotency_key!r} was already used for {existing.kind} of "
            f"{format_credits(abs(existing.credits))} credits on account {existing.account_id}")
    return existing
