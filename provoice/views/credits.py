"""What users see of their credits: the balance and the ledger's entries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from provoice.catalog.models import CreditEntry
from provoice.credits import Balance


class BalanceView(BaseModel):
    """`balance` is the ledger's total; `held` is set aside for PVCs in progress; `available` is what
    new work can use."""

    balance: float
    held: float
    available: float

    @classmethod
    def of(cls, b: Balance) -> BalanceView:
        return cls(balance=float(b.total), held=float(b.held), available=float(b.available))


class CreditEntryView(BaseModel):
    id: str
    kind: str
    credits: float
    reference: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: CreditEntry) -> CreditEntryView:
        return cls(
            id=entry.id,
            kind=entry.kind,
            credits=float(entry.credits),
            reference=entry.reference,
            created_at=entry.created_at,
        )
