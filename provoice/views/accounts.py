"""What users see of their accounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from provoice.catalog.models import ApiKey


class ApiKeyCreated(BaseModel):
    account_id: str
    key_id: str
    secret: str = Field(description="shown this once; only its hash is stored")


class ApiKeyView(BaseModel):
    """A key as its owner sees it: never its secret or hash."""

    key_id: str
    account_id: str
    prefix: str = Field(description="the secret's first characters, to tell keys apart")
    created_at: datetime
    revoked_at: datetime | None = Field(None, description="when it was revoked; a revoked key is refused")

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            key_id=key.id,
            account_id=key.account_id,
            prefix=key.prefix,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )
