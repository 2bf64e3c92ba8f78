"""What users see of datasets: their files, listings, preparations and preparation results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field

from provoice.views.base import View


def report_url(dataset_id: str, version: str) -> str:
    """The API route that serves a dataset version's quality report."""
    return f"/datasets/{dataset_id}/versions/{version}/report"


class FileView(View):
    id: str
    name: str = Field(validation_alias=AliasChoices("original_name", "name"))
    status: str = Field(description="pending, accepted or rejected")
    reason: str | None = Field(description="why the file was rejected")
    format: str | None = Field(description="the format detected from the content")
    size: int
    sha256: str
    duration_s: float | None
    accepted_s: float = Field(description="seconds of accepted speech")
    segments: int
    warnings: list[str] = Field(default_factory=list)


class PreparationView(BaseModel):
    version: str
    accepted_seconds: float | None
    enough: bool | None
    message: str = ""
    transcript_accuracy: float | None = Field(
        default=None,
        description="estimated share of transcript words right (Whisper's word probabilities, word-weighted)",
    )
    report_url: str = Field(description="the quality report (JSON) of this version")


class PreparingView(BaseModel):
    """A preparation in progress: steps done of all its per-file steps."""

    version: str
    progress_done: int
    progress_total: int
    started_at: datetime


class DatasetRow(View):
    """One line of a dataset listing."""

    id: str
    name: str
    created_at: datetime
    files: int = Field(description="number of files")


class DatasetView(View):
    """A dataset with its files and its latest completed preparation (None before the first)."""

    id: str
    name: str
    created_at: datetime
    files: list[FileView]
    latest_preparation: PreparationView | None
    preparing: PreparingView | None = None


class PrepareStarted(BaseModel):
    """Preparation was started: on a worker (its Prefect flow run) or in this process."""

    dataset_id: str
    flow_run_id: str | None
    status: str = Field(description="queued (a worker will run it) or running")


class DatasetFiles(BaseModel):
    """Files just added to a dataset, each with its status."""

    id: str = Field(description="the dataset id")
    name: str | None = None
    files: list[FileView]


class RemovedFile(BaseModel):
    id: str = Field(description="the dataset id")
    removed: str = Field(description="the removed file's id")


class SegmentView(BaseModel):
    """One segment of a prepared version and its decision."""

    index: int = Field(description="its place in the version, from 0: the same in every listing")
    file_id: str
    start: float = Field(description="seconds into the converted file")
    end: float
    text: str
    kept: bool = Field(description="whether it is trained on")
    reason: str | None = Field(description="why it was rejected")
    warnings: list[str] = Field(default_factory=list)


class SegmentPage(BaseModel):
    """A page of a prepared version's segments in a stable order; `next_cursor` continues it."""

    dataset_id: str
    version: str
    kept: bool | None = Field(description="the filter: only kept (true) or rejected (false) segments; null: all")
    total: int = Field(description="segments matching the filter, on every page")
    limit: int
    segments: list[SegmentView]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page; null on the last")


class PreparedFile(BaseModel):
    """A file as one preparation saw it."""

    id: str
    name: str
    status: str
    reason: str | None
    duration_s: float | None
    accepted_s: float
    segments: int
    transcript_accuracy: float | None = Field(
        default=None,
        description="estimated share of transcript words right (Whisper's word probabilities, word-weighted)",
    )


class PrepareSummary(BaseModel):
    """The result of preparing a dataset version."""

    dataset_id: str
    version: str
    accepted_seconds: float
    min_seconds: float
    enough: bool = Field(description="whether the accepted speech reaches the minimum for training")
    manifest_uri: str = Field(exclude=True)
    report_uri: str = Field(exclude=True)
    message: str
    transcript_accuracy: float | None = Field(
        default=None,
        description="estimated share of transcript words right (Whisper's word probabilities, word-weighted)",
    )
    files: list[PreparedFile]

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def report_url(self) -> str:
        return report_url(self.dataset_id, self.version)


class DatasetReport(BaseModel):
    """A prepared version's quality report (`report.json`) as users see it: accepted speech against
    the minimum, rejections by reason, warnings and every file with its status. Keys a report of
    another ProVoice version has beyond these pass through as they are."""

    model_config = ConfigDict(extra="allow")

    dataset_id: str
    version: str
    created_at: str = Field(description="when the version was prepared (ISO 8601)")
    accepted_seconds: float
    min_seconds: float
    enough: bool
    missing_seconds: float | None = None
    message: str
    segments: int = Field(description="accepted segments")
    transcript_accuracy: float | None = Field(
        default=None,
        description="estimated share of transcript words right (Whisper's word probabilities, word-weighted)",
    )
    speaker_similarity_median: float | None = None
    speaker_voice: list[float] | None = Field(default=None, description="the dataset's main voice (unit embedding)")
    rejection_reasons: dict[str, int] = Field(default_factory=dict, description="rejected files by kind of reason")
    files: list[dict[str, Any]]
    warnings: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict, description="the preparation settings of this version")
