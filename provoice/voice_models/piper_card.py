"""The model card that travels with an exported Piper voice: where the voice came from (PVC, base
model, dataset version, consent, recipe), how it scored and how to run it, so the files stay
accountable once they leave ProVoice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provoice.catalog import Pvc, Voice

if TYPE_CHECKING:
    from provoice.consent import Consent
    from provoice.tts.formats import BaseModelMeta

NO_LICENCE = "see the base model's source"
LICENCE_KEYS = ("license", "licence")


@dataclass(frozen=True)
class CardFacts:
    """What the card says about one export."""

    name: str
    pvc: Pvc
    voices: list[Voice]
    model_id: str
    meta: BaseModelMeta
    recipe: str
    consent: Consent | None
    speaker_id_map: dict[str, int] = field(default_factory=dict)

    def description(self) -> str:
        voices = ", ".join(v.name for v in self.voices)
        return f"{voices} of the pro voice clone {self.pvc.name!r}, fine-tuned from {self.pvc.base_model_id}"


def base_licence(meta: BaseModelMeta) -> str:
    """The base model's licence as its stored source or details record it."""
    for where in (meta.source, meta.details):
        for key in LICENCE_KEYS:
            if where.get(key):
                return str(where[key])
    return NO_LICENCE


def consent_line(consent: Consent | None) -> str:
    if consent is None:
        return "none recorded (this PVC was trained where consent was not required)"
    state = "valid" if consent.valid else f"invalidated ({consent.prompt.invalid_reason})"
    when = consent.prompt.verified_at.date().isoformat() if consent.prompt.verified_at else "unknown date"
    return f"record `{consent.prompt.id}`, recording `{consent.attempt.id}`, verified {when}, {state}"


def evaluation_lines(evaluation: dict[str, Any] | None) -> list[str]:
    """Every figure of the PVC's evaluation, the base model's beside it where it has one."""
    evaluation = evaluation or {}
    base = evaluation.get("base") or {}
    lines = []
    for key, value in evaluation.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            versus = base.get(key)
            suffix = f" (base model: {versus:.3f})" if isinstance(versus, (int, float)) else ""
            lines.append(f"- {key.replace('_', ' ')}: {value:.3f}{suffix}")
    return lines


def model_card(facts: CardFacts) -> str:
    """The card as markdown."""
    from provoice.voice_models.registry import describe_source

    pvc, name = facts.pvc, facts.name
    speakers = len(facts.speaker_id_map) or 1
    lines = [
        f"# {name}",
        "",
        f"A Piper voice ({'multi-speaker, ' + str(speakers) + ' voices' if speakers > 1 else 'single speaker'}) "
        "exported from ProVoice.",
        "",
        f"- Voice{'s' if len(facts.voices) > 1 else ''}: " + ", ".join(f"{v.name} (`{v.id}`)" for v in facts.voices),
        f"- PVC: {pvc.name} (`{pvc.id}`)",
        f"- Model: `{facts.model_id}`",
        f"- Base model: `{pvc.base_model_id}` ({describe_source(facts.meta.source)})",
        f"- Dataset: `{pvc.dataset_id}`, version `{pvc.dataset_version or 'unknown'}`",
        f"- Consent: {consent_line(facts.consent)}",
        f"- Fine-tune recipe: {facts.recipe}",
        f"- Licence of the base model: {base_licence(facts.meta)}",
        f"- Sample rate: {facts.meta.config.sample_rate} Hz, espeak voice `{facts.meta.espeak_voice}`",
    ]
    if facts.speaker_id_map:
        lines += ["", "## Speakers", ""]
        lines += [f"- `{sid}`: {speaker}" for speaker, sid in facts.speaker_id_map.items()]
    scores = evaluation_lines(pvc.evaluation)
    if scores:
        lines += ["", "## Evaluation", "", *scores]
    speaker_flag = " -s 0" if speakers > 1 else ""
    lines += [
        "",
        "## Run it with Piper",
        "",
        "```sh",
        "pip install piper-tts",
        f"piper -m {name}.onnx{speaker_flag} -f hello.wav -- 'Hello from my voice.'",
        "aplay hello.wav",
        "```",
        "",
    ]
    return "\n".join(lines)
