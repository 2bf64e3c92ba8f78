"""ORM tables of consent (migration 0007): the prompts a PVC's speaker is asked to read, and every
recording submitted against them, kept as the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from provoice.catalog.models import Base, new_id, utcnow
from provoice.catalog.types import UtcDateTime

PROMPT_STATUSES = ("open", "verified", "replaced", "invalidated")


class ConsentPrompt(Base):
    """One prompt: the statement to read (with its one-time phrase), when it expires and how many
    attempts were used. `verified` is the PVC's consent until it is invalidated."""

    __tablename__ = "consent_prompts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("consent"))
    pvc_id: Mapped[str] = mapped_column(ForeignKey("pvcs.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    phrase: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    max_attempts: Mapped[int] = mapped_column(Integer)
    attempts_used: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verified_attempt_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    invalid_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    invalidated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ConsentAttempt(Base):
    """One submitted recording: the original as stored (never modified), what was heard and measured,
    and the decision. `voice` is the recording's speaker embedding, what later dataset versions are
    compared with."""

    __tablename__ = "consent_attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("attempt"))
    prompt_id: Mapped[str] = mapped_column(ForeignKey("consent_prompts.id"), index=True)
    pvc_id: Mapped[str] = mapped_column(ForeignKey("pvcs.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    original_name: Mapped[str] = mapped_column(String(255))
    recording_key: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    transcript: Mapped[str | None] = mapped_column(Text, nullable=True)
    prompt_wer: Mapped[float | None] = mapped_column(Float, nullable=True)
    speaker_similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    speech_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    dataset_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    voice: Mapped[list | None] = mapped_column(JSON, nullable=True)
