"""What users see of speech they asked for."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TtsResult(BaseModel):
    model_id: str
    output: str
    sample_rate: int
    format: str = Field(description="the container: wav, raw, mp3, opus, aac or flac")
    encoding: str | None = Field(None, description="the samples of wav and raw audio")
    duration_s: float
    conditioned: bool
