"""ORM tables of the product layer: pro voice clones and their voices (migration 0004), and the
decisions of retraining them on a new base model (migration 0005); the speaker name (0007); training
that starts when the speaker's consent is verified (0008)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from provoice.catalog.models import Base, new_id, utcnow
from provoice.catalog.types import UtcDateTime
from provoice.pvc.status import PvcStatus

RETRAIN_DECISIONS = ("promoted", "kept", "failed")


class Pvc(Base):
    __tablename__ = "pvcs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pvc"))
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Whose voice it is, as the consent statement names them (default: the PVC's name).
    speaker_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    description: Mapped[str] = mapped_column(Text, default="")
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    dataset_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    base_model_id: Mapped[str] = mapped_column(String(100))
    model_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=PvcStatus.DRAFT)  # a PvcStatus
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    auto_retrain: Mapped[bool] = mapped_column(Boolean, default=False)
    evaluation: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The Prefect flow run that owns the attempt, and until when its heartbeat holds the PVC.
    flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The training budget, fixed at the first start; retries train what is left of it.
    budget_steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Why a failed attempt failed, as a kind: "worker-lost", "infrastructure", or None (the data or model).
    failure_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Start training as soon as the speaker's consent is verified (set where the caller's API has no
    # train call, as Cartesia's fine-tunes have none); consent is still required, never skipped.
    train_on_consent: Mapped[bool] = mapped_column(Boolean, default=False)


class Voice(Base):
    __tablename__ = "voices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("voice"))
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    pvc_id: Mapped[str] = mapped_column(ForeignKey("pvcs.id"), index=True)
    model_id: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source_file_id: Mapped[str] = mapped_column(String(32))
    clip_uri: Mapped[str] = mapped_column(Text)
    clip_start: Mapped[float] = mapped_column(Float)
    clip_end: Mapped[float] = mapped_column(Float)
    embedding: Mapped[list] = mapped_column(JSON)
    preview_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PvcRetrain(Base):
    """One decision per (PVC, new base model): the new model was promoted, the old one kept, or the
    attempt failed. The unique pair is what keeps the daily retrain from training the same thing twice."""

    __tablename__ = "pvc_retrains"
    __table_args__ = (UniqueConstraint("pvc_id", "base_model_id", name="uq_pvc_retrains_pvc_base"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("retrain"))
    pvc_id: Mapped[str] = mapped_column(ForeignKey("pvcs.id"))
    base_model_id: Mapped[str] = mapped_column(String(100))
    old_base_model_id: Mapped[str] = mapped_column(String(100))
    old_model_id: Mapped[str] = mapped_column(String(200))
    new_model_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    old_evaluation: Mapped[dict] = mapped_column(JSON, default=dict)
    new_evaluation: Mapped[dict] = mapped_column(JSON, default=dict)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
