"""`/credits`: the caller's balance (total, held for PVCs in progress, available) and ledger."""

from __future__ import annotations

from fastapi import APIRouter

from interfaces.api.deps import AccountId, CatalogDep
from provoice.credits import account_balance, history
from provoice.views import BalanceView, CreditEntryView

router = APIRouter(prefix="/credits", tags=["credits"])


@router.get("/balance")
def credits_balance(account: AccountId, catalog: CatalogDep) -> BalanceView:
    return BalanceView.of(account_balance(catalog, account))


@router.get("/history")
def credits_history(account: AccountId, catalog: CatalogDep) -> list[CreditEntryView]:
    """Grants and charges, oldest first."""
    return [CreditEntryView.of(e) for e in history(catalog, account)]
