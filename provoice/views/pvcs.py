"""What users see of pro voice clones: the clone with its voices, consent and retrains, and how a run ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, computed_field

from provoice.catalog import PvcRetrain
from provoice.pvc.status import PvcStatus
from provoice.views.base import View
from provoice.views.consent import ConsentView


class PvcVoiceView(View):
    id: str
    name: str
    source_file_id: str
    preview_uri: str | None = Field(exclude=True)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def preview_url(self) -> str | None:
        return f"/voices/{self.id}/preview" if self.preview_uri else None


class RetrainView(View):
    """One retrain decision: the base model it was about, both models' scores and why."""

    id: str
    pvc_id: str
    base_model_id: str
    decision: str = Field(description="promoted, kept or failed")
    reason: str
    old_base_model_id: str
    old_model_id: str
    new_model_id: str | None
    old_evaluation: dict[str, Any] | None
    new_evaluation: dict[str, Any] | None
    started_at: datetime
    decided_at: datetime

    @classmethod
    def of(cls, row: PvcRetrain) -> RetrainView:
        view = cls.model_validate(row)
        return view.model_copy(
            update={"old_evaluation": row.old_evaluation or None, "new_evaluation": row.new_evaluation or None}
        )


class PvcView(BaseModel):
    """A pro voice clone with its voices, charge, consent and latest retrain."""

    id: str
    name: str
    status: PvcStatus
    step: str | None
    reason: str | None
    attempts: int
    dataset_id: str
    dataset_version: str | None
    base_model_id: str
    model_id: str | None
    voices: list[PvcVoiceView]
    evaluation: dict[str, Any] | None
    voices_note: str | None
    charged_credits: float
    auto_retrain: bool
    latest_retrain: RetrainView | None
    budget: dict[str, float | int | None] = Field(description="max_steps / max_minutes of all attempts together")
    flow_run_id: str | None = Field(description="the Prefect flow run that owns the current or last attempt")
    failure_kind: str | None = Field(description="worker-lost or infrastructure (re-attempt when back), or None")
    loss_curve_url: str | None
    speaker_name: str = Field(description="whose voice it is, as the consent prompt names them")
    consent: ConsentView
    train_on_consent: bool = Field(
        False,
        description="its first training starts by itself once the speaker's consent is verified (a Cartesia fine-tune)",
    )


class PvcRun(BaseModel):
    """How one attempt of the parent flow ended."""

    id: str
    status: PvcStatus
    model_id: str | None
    voices: list[PvcVoiceView]
