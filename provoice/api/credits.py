"""`/credits`: the caller's balance."""

from __future__ import annotations

from fastapi import APIRouter

from provoice.api.deps import AccountId, CatalogDep
from provoice.credits import balance

router = APIRouter(prefix="/credits", tags=["credits"])


@router.get("/balance")
def credits_balance(account: AccountId, catalog: CatalogDep) -> dict:
    return {"balance": float(balance(catalog, account))}
