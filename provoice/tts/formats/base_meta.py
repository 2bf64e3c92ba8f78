"""What a base model is besides its weights: the `config.json` stored beside them.

It carries everything needed to turn text into audio with the weights (model config, phoneme
map, espeak voice, sample rate, inference scales) and where they came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from provoice.tts.errors import CheckpointError
from provoice.tts.formats.piper_voice import InferenceScales
from provoice.tts.model.config import VitsConfig
from provoice.tts.text.frontend import PhonemeMap, TextFrontEnd

if TYPE_CHECKING:  # the metadata itself needs no torch (the ONNX serving path reads it)
    from torch import nn

    from provoice.tts.model.synthesizer import SynthesizerTrn

META_FORMAT = 1
#: "trained": discriminator weights came with the model; "random": stored freshly initialised ones;
#: "fresh": none stored, the trainer builds and warms one up.
DiscriminatorState = Literal["trained", "random", "fresh"]


@dataclass
class NewBaseModel:
    """Weights and metadata to register; `fingerprint` identifies the content (same id, same
    fingerprint: registering again is a no-op)."""

    generator: SynthesizerTrn
    phoneme_id_map: dict[str, list[int]]
    source: dict[str, Any]
    fingerprint: str
    discriminator: nn.Module | None = None
    discriminator_state: DiscriminatorState = "fresh"
    espeak_voice: str = "en-us"
    inference: InferenceScales = field(default_factory=InferenceScales)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class BaseModelMeta:
    """The stored `config.json` of one base model."""

    id: str
    config: VitsConfig
    phoneme_id_map: dict[str, list[int]]
    sample_rate: int
    espeak_voice: str
    inference: InferenceScales
    source: dict[str, Any]
    created_at: str
    discriminator: DiscriminatorState
    fingerprint: str
    details: dict[str, Any] = field(default_factory=dict)

    def front_end(self) -> TextFrontEnd:
        """The text front-end that produces this model's phoneme ids."""
        return TextFrontEnd(PhonemeMap.from_dict(self.phoneme_id_map), espeak_voice=self.espeak_voice)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": META_FORMAT,
            "id": self.id,
            "config": self.config.to_dict(),
            "phoneme_id_map": self.phoneme_id_map,
            "sample_rate": self.sample_rate,
            "espeak_voice": self.espeak_voice,
            "inference": asdict(self.inference),
            "source": self.source,
            "created_at": self.created_at,
            "discriminator": self.discriminator,
            "fingerprint": self.fingerprint,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "config.json") -> BaseModelMeta:
        """Parse a stored config; anything malformed is a `CheckpointError` naming `where`."""
        try:
            if data.get("format") != META_FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r} (expected {META_FORMAT})")
            return cls(
                id=str(data["id"]),
                config=VitsConfig.from_dict(dict(data["config"])),
                phoneme_id_map=PhonemeMap.from_dict(data["phoneme_id_map"]).to_dict(),
                sample_rate=int(data["sample_rate"]),
                espeak_voice=str(data["espeak_voice"]),
                inference=InferenceScales.from_dict(data.get("inference")),
                source=dict(data["source"]),
                created_at=str(data["created_at"]),
                discriminator=_discriminator_state(data["discriminator"]),
                fingerprint=str(data["fingerprint"]),
                details=dict(data.get("details") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"base model metadata {where} is malformed: {exc}") from exc


def _discriminator_state(value: Any) -> DiscriminatorState:
    if value not in ("trained", "random", "fresh"):
        raise ValueError(f"discriminator must be 'trained', 'random' or 'fresh', not {value!r}")
    return value
