"""How a model scores: one shape from the evaluation that measures it to the API, the CLI, the
fine-tune summary and the retrain decision."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_serializer

#: Decimals each score keeps in what is stored and shown (more is evaluation noise).
SCORE_DIGITS, DNSMOS_DIGITS = 4, 3
#: The three scores every evaluation has, and a retrain decision compares and records.
EVALUATION_SCORES = ("wer", "speaker_similarity", "dnsmos")


def _rounded(value: float | None, digits: int = SCORE_DIGITS) -> float | None:
    return None if value is None else round(value, digits)


class Evaluation(BaseModel):
    """A model's scores on the held-out sentences: word error rate by Whisper, speaker similarity to
    real held-out speech, DNSMOS; with the ceiling (the real held-out clips' own similarity to their
    voice) and the floor (`base`, its base model on the same sentences and voice) when they were
    measured. The per-sentence rows stay with the object and out of every dump."""

    model_id: str | None = Field(default=None, exclude=True, description="the model scored; shown for the base")
    wer: float
    speaker_similarity: float | None
    dnsmos: float
    ceiling_similarity: float | None = None
    base: Evaluation | None = None
    wer_by_seed: list[float] = Field(
        default_factory=list, description="each synthesis seed's own WER: the spread of a single reading"
    )
    sentences: list[dict[str, Any]] = Field(default_factory=list, exclude=True)

    @field_serializer("wer", "speaker_similarity", "ceiling_similarity")
    def _score(self, value: float | None) -> float | None:
        return _rounded(value)

    @field_serializer("dnsmos")
    def _dnsmos(self, value: float) -> float:
        return round(value, DNSMOS_DIGITS)

    @field_serializer("wer_by_seed")
    def _seeds(self, values: list[float]) -> list[float]:
        return [round(v, SCORE_DIGITS) for v in values]

    @field_serializer("base")
    def _floor(self, base: Evaluation | None) -> dict[str, Any] | None:
        """The floor as its headline: which base model, and its three scores."""
        if base is None:
            return None
        return {
            "model_id": base.model_id,
            "wer": _rounded(base.wer),
            "speaker_similarity": _rounded(base.speaker_similarity),
            "dnsmos": round(base.dnsmos, DNSMOS_DIGITS),
        }

    def summary(self) -> dict[str, Any]:
        """The scores that were measured: the three always, the ceiling, floor and seeds' spread when there."""
        return {k: v for k, v in self.model_dump(mode="json").items() if k in EVALUATION_SCORES or v not in (None, [])}

    def line(self) -> str:
        """WER, similarity and DNSMOS, each next to its floor (the base model) and the similarity's
        ceiling: what the CLI prints and the fine-tune summary artifact shows."""
        base = self.base
        sim = "—" if self.speaker_similarity is None else f"{self.speaker_similarity:.3f}"
        if self.ceiling_similarity is not None:
            sim += f" of a possible {self.ceiling_similarity:.3f}"
        if base is not None and base.speaker_similarity is not None:
            sim += f", up from {base.speaker_similarity:.3f}"
        wer = f"{self.wer:.1%}"
        if len(self.wer_by_seed) > 1:
            wer += f" ({len(self.wer_by_seed)} seeds: {min(self.wer_by_seed):.1%}–{max(self.wer_by_seed):.1%})"
        wer += f" (base model {base.wer:.1%})" if base is not None else ""
        mos = f"{self.dnsmos:.2f}" + (f" (base model {base.dnsmos:.2f})" if base is not None else "")
        return f"WER {wer}, speaker similarity {sim}, DNSMOS {mos}"
