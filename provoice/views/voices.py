"""What users see of voices: a voice, and a voice written out as a standard Piper voice."""

from __future__ import annotations

from typing import Any

from pydantic import Field, computed_field, field_validator

from provoice.views.base import View


class VoiceView(View):
    id: str
    name: str
    model_id: str
    pvc_id: str
    source_file_id: str
    preview_uri: str | None = Field(exclude=True)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def preview_url(self) -> str | None:
        return f"/voices/{self.id}/preview" if self.preview_uri else None


class PiperExportView(View):
    """A voice (or a model's voices) written as a standard Piper voice: its files and how closely each
    speaker reproduced ProVoice's own synthesis."""

    name: str
    model_id: str
    pvc_id: str
    onnx_path: str
    config_path: str
    card_path: str
    num_speakers: int
    speaker_id_map: dict[str, int]
    correlations: list[float]

    @field_validator("onnx_path", "config_path", "card_path", mode="before")
    @classmethod
    def _path(cls, value: Any) -> str:
        return str(value)
