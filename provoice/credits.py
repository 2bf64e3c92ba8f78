"""The credit ledger: append-only entries in milli-credits; each charge lands once per idempotency
key, and the balance never goes negative.

- Exactly-once rests on the database: a UNIQUE idempotency key, so a second caller (a retried
  task, another process) gets the entry that landed first.
- Never negative rests on `Catalog.account_transaction`: the check of the available balance and
  the write it allows happen in one transaction that holds the account's write lock.
- Work that is paid after it is done (a PVC, a TTS request) places a hold first; success charges
  the hold, failure releases it. Available = ledger total − holds.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provoice.catalog.db import Catalog
from provoice.catalog.models import MILLI_CREDITS, Account, CreditEntry, CreditHold, utcnow
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


def _ledger_milli(s: Session, account_id: str) -> int:
    return int(
        s.scalar(select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(CreditEntry.account_id == account_id))
    )


def _held_milli(s: Session, account_id: str) -> int:
    return int(
        s.scalar(
            select(func.coalesce(func.sum(CreditHold.amount), 0)).where(
                CreditHold.account_id == account_id, CreditHold.status == "held"
            )
        )
    )


@dataclass(frozen=True)
class Balance:
    """`total` is the ledger; `held` is set aside for work in progress; `available` is what new work
    may use. None of them is ever negative."""

    total: Decimal
    held: Decimal
    available: Decimal


def account_balance(catalog: Catalog, account_id: str) -> Balance:
    _require_account(catalog, account_id)
    with catalog.session() as s:
        total, held = _ledger_milli(s, account_id), _held_milli(s, account_id)
    return Balance(Decimal(total) / MILLI_CREDITS, Decimal(held) / MILLI_CREDITS, Decimal(total - held) / MILLI_CREDITS)


def balance(catalog: Catalog, account_id: str) -> Decimal:
    """The ledger's total (held credits included)."""
    return account_balance(catalog, account_id).total


def history(catalog: Catalog, account_id: str) -> list[CreditEntry]:
    """Oldest first."""
    _require_account(catalog, account_id)
    with catalog.session() as s:
        q = (
            select(CreditEntry)
            .where(CreditEntry.account_id == account_id)
            .order_by(CreditEntry.created_at, CreditEntry.id)
        )
        return list(s.scalars(q))


def holds(catalog: Catalog, account_id: str, status: str | None = None) -> list[CreditHold]:
    """Oldest first; `status` held, charged or released, or all."""
    q = select(CreditHold).where(CreditHold.account_id == account_id)
    if status is not None:
        q = q.where(CreditHold.status == status)
    with catalog.session() as s:
        return list(s.scalars(q.order_by(CreditHold.created_at, CreditHold.id)))


def charged_credits(catalog: Catalog, account_id: str, reference: str, kind: str | None = None) -> Decimal:
    """Credits the account was charged against a reference (a PVC id), as a positive number."""
    q = select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
        CreditEntry.account_id == account_id, CreditEntry.reference == reference, CreditEntry.amount < 0
    )
    if kind is not None:
        q = q.where(CreditEntry.kind == kind)
    with catalog.session() as s:
        milli = s.scalar(q)
    return -Decimal(milli or 0) / MILLI_CREDITS


def grant(
    catalog: Catalog,
    account_id: str,
    credits: Credits,
    idempotency_key: str | None = None,
    reference: str | None = None,
) -> CreditEntry:
    """Add credits; with an idempotency key, repeating the grant adds nothing."""
    amount = to_milli(credits)
    if amount <= 0:
        raise ValueError(f"a grant must be positive, got {credits!r}")
    return _append(
        catalog,
        CreditEntry(
            account_id=account_id, amount=amount, kind="grant", reference=reference, idempotency_key=idempotency_key
        ),
    )


def _refusal(purpose: str, needed: int, total: int, held: int) -> InsufficientCredits:
    who = f"{purpose} " if purpose else ""
    held_note = (
        f" ({format_credits(Decimal(held) / MILLI_CREDITS)} of {format_credits(Decimal(total) / MILLI_CREDITS)}"
        " held for work in progress)"
        if held
        else ""
    )
    return InsufficientCredits(
        f"{who}needs {format_credits(Decimal(needed) / MILLI_CREDITS)} credits, available "
        f"{format_credits(Decimal(total - held) / MILLI_CREDITS)}{held_note}; add credits with "
        "`provoice credits grant`"
    )


def debit(
    catalog: Catalog,
    account_id: str,
    credits: Credits,
    kind: str,
    reference: str | None,
    idempotency_key: str,
    purpose: str = "",
) -> CreditEntry:
    """Charge once per idempotency key, however often or concurrently this is called; the entry
    that landed is returned. A charge the available balance does not cover is refused
    (InsufficientCredits): the balance never goes negative. Work that must be paid after it is done
    places a hold first (`place_hold`) and charges it (`charge_hold`)."""
    amount = to_milli(credits)
    if amount <= 0:
        raise ValueError(f"a charge must be positive, got {credits!r}")
    if not idempotency_key:
        raise ValueError("a charge needs an idempotency key")
    entry = CreditEntry(
        account_id=account_id, amount=-amount, kind=kind, reference=reference, idempotency_key=idempotency_key
    )

    def covered(s: Session) -> None:
        total, held = _ledger_milli(s, account_id), _held_milli(s, account_id)
        if total - held < amount:
            raise _refusal(purpose, amount, total, held)

    return _append(catalog, entry, check=covered)


def require_balance(catalog: Catalog, account_id: str, credits: Credits, purpose: str = "") -> Decimal:
    """The available balance, when it covers `credits`; otherwise InsufficientCredits with the
    figures. A check for telling the user early; the hold or charge itself is what guarantees it."""
    needed = to_milli(credits)
    current = account_balance(catalog, account_id)
    total, held = to_milli(current.total), to_milli(current.held)
    if total - held < needed:
        raise _refusal(purpose, needed, total, held)
    return current.available


def place_hold(
    catalog: Catalog,
    account_id: str,
    credits: Credits,
    kind: str,
    reference: str | None,
    idempotency_key: str,
    purpose: str = "",
    session: Session | None = None,
) -> CreditHold:
    """Set `credits` aside for work about to start, if the available balance covers them; the same
    key returns the same hold. Pass `session` (from `Catalog.account_transaction`) to place it in
    the transaction that claims the work."""
    amount = to_milli(credits)
    if amount <= 0:
        raise ValueError(f"a hold must be positive, got {credits!r}")
    if session is None:
        _require_account(catalog, account_id)
        with catalog.account_transaction(account_id) as s:
            return place_hold(catalog, account_id, credits, kind, reference, idempotency_key, purpose, s)
    existing = session.scalars(select(CreditHold).where(CreditHold.idempotency_key == idempotency_key)).first()
    if existing is not None:
        if (existing.account_id, existing.amount, existing.kind) != (account_id, amount, kind):
            raise IdempotencyConflict(f"hold key {idempotency_key!r} was already used for another hold")
        return existing
    total, held = _ledger_milli(session, account_id), _held_milli(session, account_id)
    if total - held < amount:
        raise _refusal(purpose, amount, total, held)
    hold = CreditHold(
        account_id=account_id,
        amount=amount,
        kind=kind,
        reference=reference,
        idempotency_key=idempotency_key,
        status="held",
    )
    session.add(hold)
    session.flush()
    return hold


def charge_hold(
    catalog: Catalog, hold_key: str, charge_key: str, credits: Credits | None = None, session: Session | None = None
) -> CreditEntry:
    """Turn a hold into its charge (the whole hold, or `credits` of it, releasing the rest), once:
    repeating returns the same ledger entry. Pass `session` (from `Catalog.account_transaction`) to
    charge in the transaction that completes the work."""
    if session is None:
        with catalog.account_transaction(_hold(catalog, hold_key).account_id) as s:
            return charge_hold(catalog, hold_key, charge_key, credits, s)
    hold = session.scalars(select(CreditHold).where(CreditHold.idempotency_key == hold_key)).first()
    if hold is None:
        raise NotFound(f"no credit hold {hold_key!r}")
    if hold.status == "charged":
        return session.get_one(CreditEntry, hold.charge_entry_id)
    if hold.status != "held":
        raise IdempotencyConflict(f"hold {hold_key!r} was {hold.status}; it cannot be charged")
    amount = hold.amount if credits is None else to_milli(credits)
    if not 0 < amount <= hold.amount:
        raise ValueError(f"a charge of a hold must be positive and at most the hold, got {credits!r}")
    entry = CreditEntry(
        account_id=hold.account_id, amount=-amount, kind=hold.kind, reference=hold.reference, idempotency_key=charge_key
    )
    session.add(entry)
    session.flush()
    hold.status, hold.charge_entry_id, hold.settled_at = "charged", entry.id, utcnow()
    return entry


def release_hold(catalog: Catalog, hold_key: str, session: Session | None = None) -> CreditHold | None:
    """Give a held amount back (the work failed or was refused); a settled or unknown hold is left as
    is. Pass `session` to release it in the transaction that ends the work."""
    if session is None:
        with catalog.session() as s:
            return release_hold(catalog, hold_key, s)
    hold = session.scalars(select(CreditHold).where(CreditHold.idempotency_key == hold_key)).first()
    if hold is not None and hold.status == "held":
        hold.status, hold.settled_at = "released", utcnow()
    return hold


def _hold(catalog: Catalog, hold_key: str) -> CreditHold:
    with catalog.session() as s:
        hold = s.scalars(select(CreditHold).where(CreditHold.idempotency_key == hold_key)).first()
    if hold is None:
        raise NotFound(f"no credit hold {hold_key!r}")
    return hold


def _require_account(catalog: Catalog, account_id: str) -> None:
    with catalog.session() as s:
        if s.get(Account, account_id) is None:
            raise NotFound(f"no account with id {account_id!r}")


def _append(catalog: Catalog, entry: CreditEntry, check: Callable[[Session], None] | None = None) -> CreditEntry:
    _require_account(catalog, entry.account_id)
    try:
        with catalog.account_transaction(entry.account_id) as s:
            if entry.idempotency_key is not None:
                existing = s.scalars(
                    select(CreditEntry).where(CreditEntry.idempotency_key == entry.idempotency_key)
                ).one_or_none()
                if existing is not None:
                    return _same_or_conflict(existing, entry)
            if check is not None:
                check(s)
            s.add(entry)
        return entry
    except IntegrityError:
        if entry.idempotency_key is None:
            raise
        with catalog.session() as s:
            existing = s.scalars(
                select(CreditEntry).where(CreditEntry.idempotency_key == entry.idempotency_key)
            ).one_or_none()
        if existing is None:
            raise
    return _same_or_conflict(existing, entry)


def _same_or_conflict(existing: CreditEntry, entry: CreditEntry) -> CreditEntry:
    if (existing.account_id, existing.amount, existing.kind) != (entry.account_id, entry.amount, entry.kind):
        raise IdempotencyConflict(
            f"idempotency key {entry.idempotency_key!r} was already used for {existing.kind} of "
            f"{format_credits(abs(existing.credits))} credits on account {existing.account_id}"
        )
    return existing
