"""ORM tables. Any change here needs a migration in `migrations/versions/`."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from provoice.catalog.types import UtcDateTime


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ds"))
    name: Mapped[str] = mapped_column(String(200))
    # What the dataset is for, as its owner describes it (migration 0008).
    description: Mapped[str] = mapped_column(Text, default="")
    account_id: Mapped[str] = mapped_column(String(32), default="acct_local")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    files: Mapped[list[DatasetFile]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="DatasetFile.created_at"
    )


class DatasetFile(Base):
    __tablename__ = "dataset_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("f"))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    original_name: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    sample_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    raw_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    duplicate_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    accepted_s: Mapped[float] = mapped_column(Float, default=0.0)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    dataset: Mapped[Dataset] = relationship(back_populates="files")


class PreparationStatus(StrEnum):
    """A preparation run: running (its process renews a lease), then completed or failed."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class PreparationRun(Base):
    __tablename__ = "preparation_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("prep"))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    version: Mapped[str] = mapped_column(String(64), index=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=PreparationStatus.RUNNING)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    manifest_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Renewed by the process preparing (`provoice.dataset.runs.RunLease`); lapsed: that process died.
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PreparedSegment(Base):
    """One segment of a prepared dataset version with its decision, so listings page through
    thousands of them by index (migration 0009). `position` is the segment's place in the version's
    `segments.jsonl`, file by file in time order."""

    __tablename__ = "prepared_segments"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version", "position", name="uq_prepared_segments_position"),
        Index("ix_prepared_segments_kept", "dataset_id", "version", "kept", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    version: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    file_id: Mapped[str] = mapped_column(String(32))
    audio_uri: Mapped[str] = mapped_column(Text)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    kept: Mapped[bool] = mapped_column(Boolean)
    warnings: Mapped[list] = mapped_column(JSON, default=list)


class BaseModelRecord(Base):
    """A registered base model; its weights and full metadata live in storage under `uri`."""

    __tablename__ = "base_models"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    sample_rate: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Account(Base):
    """An owner of datasets, PVCs, voices and credits; the CLI acts as `acct_local`."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("acct"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    """Only the sha256 of a key is stored; `prefix` lets a user tell keys apart."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("key"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


MILLI_CREDITS = 1000


class CreditEntry(Base):
    """One append-only ledger line in milli-credits (signed), so 1.5 credits a character is exact."""

    __tablename__ = "credit_entries"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_credit_entries_idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cr"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    @property
    def credits(self) -> Decimal:
        """Signed amount in credits: positive for grants, negative for charges."""
        return Decimal(self.amount) / MILLI_CREDITS


class CreditHold(Base):
    """Credits set aside for work in progress: `held` until the work succeeds (`charged`, with the
    ledger entry it became) or fails (`released`). The available balance is the ledger minus holds."""

    __tablename__ = "credit_holds"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_credit_holds_idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("hold"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="held")
    charge_entry_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    @property
    def credits(self) -> Decimal:
        return Decimal(self.amount) / MILLI_CREDITS


class IdempotentRequest(Base):
    """A request made under an `Idempotency-Key`: the hash of the whole request it was used for, and
    where its result is kept, so a repeat returns that result and a different request is refused."""

    __tablename__ = "idempotent_requests"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    media_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    result_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
