"""`/credits`: the caller's balance."""

from __future__ import annotations

from fastapi import APIRouter

from interfaces.api.deps import AccountId, CatalogDep
from provoice.credits import balance
from provoice.views import BalanceView

router = APIRouter(prefix="/credits", tags=["credits"])


@router.get("/balance")
def credits_balance(account: AccountId, catalog: CatalogDep) -> BalanceView:
    return BalanceView(balance=float(balance(catalog, account)))
