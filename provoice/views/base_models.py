"""What users see of base models: a listing row and a registration."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from provoice.voice_models import BaseModelInfo


class BaseModelRow(BaseModel):
    """One base model in a listing; `latest` is the pinned one, else the newest."""

    id: str
    latest: bool
    pinned: bool = Field(exclude=True)
    source: str
    sample_rate: int
    created_at: datetime

    @classmethod
    def of(cls, info: BaseModelInfo) -> BaseModelRow:
        return cls(
            id=info.id,
            latest=info.latest,
            pinned=info.pinned,
            source=info.source,
            sample_rate=info.sample_rate,
            created_at=info.created_at,
        )


class RegisteredBaseModel(BaseModelRow):
    """A base model just registered (`created`) or found already registered, with its import summary."""

    model_config = ConfigDict(extra="allow")

    created: bool
    kind: str
    uri: str = Field(exclude=True)
    distillation: dict[str, Any] | None = None

    @classmethod
    def of(cls, info: BaseModelInfo) -> RegisteredBaseModel:
        row = BaseModelRow.of(info)
        return cls(**dict(row), created=info.newly_registered, kind=info.kind, uri=info.uri, **info.summary)
