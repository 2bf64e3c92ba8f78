"""What users see of a PVC's consent: the prompt to read, a recording's check and the consent's state."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ConsentPromptView(BaseModel):
    """What the speaker reads aloud, until when, and how many recordings it still takes."""

    pvc_id: str
    prompt: str
    expires_at: datetime
    attempts_left: int


class ConsentResultView(BaseModel):
    """One recording checked against the prompt: verified, or the first reason it was refused, with
    what was heard and measured (None where the recording did not get that far)."""

    verified: bool
    reason: str | None
    transcript: str | None
    prompt_wer: float | None = Field(description="word error rate of the transcript against the prompt")
    speaker_similarity: float | None = Field(description="cosine similarity to the dataset's main voice")
    attempts_left: int


class ConsentView(BaseModel):
    """A PVC's consent: `none` (never asked), `prompted` (a prompt is open), `verified` or
    `invalidated` (the dataset's voice moved away from the consent's). The verified recording's
    record is the audit trail: what was read, heard and measured, when, by which account."""

    status: str = Field(description="none, prompted, verified or invalidated")
    reason: str | None = Field(description="why it was invalidated, or why the last recording was refused")
    prompt: str | None = Field(description="the open prompt, to read aloud")
    expires_at: datetime | None
    attempts_left: int | None
    recordings: int = Field(description="recordings submitted for this PVC, verified or not")
    verified_at: datetime | None
    account_id: str | None = Field(description="the account whose key submitted the verified recording")
    verified_prompt: str | None
    transcript: str | None
    prompt_wer: float | None
    speaker_similarity: float | None
    recording_name: str | None
    recording_sha256: str | None
    dataset_version: str | None = Field(description="the dataset version whose voice it was compared with")
