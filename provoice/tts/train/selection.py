"""Which validated checkpoint is best, from the validation records alone.

A fine-tune gains the voice fast and can lose the words on the way, so the score must never
prefer a voice that mumbles: a validation point competes on speaker similarity only while its WER
stays within `wer_margin` of the reference WER, and points beyond the margin rank below every
eligible one, by WER. The reference is the base model's WER on the same sentences (the step-0
validation), or without one the best WER any trained point reached. The base is the better anchor:
it is one stable model, while the best of many noisy trained points is biased low by the noise of
a few sentences, which made good points ineligible by chance. The ranking is a pure function of the
history, so a resumed run ranks exactly as an uninterrupted one. Records without a WER (a node that
cannot transcribe) fall back to held-out mel L1, lower is better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Validation keys the selection reads (the trainer stores them with this `val_` prefix).
WER, SIMILARITY, MEL = "val_wer", "val_speaker_similarity", "val_mel"


@dataclass(frozen=True)
class Ranked:
    step: int
    score: float
    eligible: bool


def validation_points(history: Sequence[Mapping[str, float]]) -> list[Mapping[str, float]]:
    """Validation records of trained steps (step 0, the base model, is a reference, not a candidate)."""
    return [r for r in history if r.get("step", 0) > 0 and (WER in r or MEL in r)]


def rank(history: Sequence[Mapping[str, float]], wer_margin: float) -> list[Ranked]:
    """Every candidate step, best first."""
    points = validation_points(history)
    with_wer = [r for r in points if WER in r]
    if with_wer:
        reference = reference_wer(history)
        ranked = []
        for r in with_wer:
            wer = float(r[WER])
            eligible = wer <= reference + wer_margin + 1e-9
            similarity = float(r.get(SIMILARITY, 0.0))
            # Eligible points score their similarity (in [-1, 1]); the rest score below -1, by WER.
            ranked.append(Ranked(int(r["step"]), similarity if eligible else -2.0 - wer, eligible))
    else:
        ranked = [Ranked(int(r["step"]), -float(r[MEL]), True) for r in points]
    # Ties go to the earlier step: it reached the same quality with less drift from the base.
    return sorted(ranked, key=lambda x: (-x.score, x.step))


def reference_wer(history: Sequence[Mapping[str, float]]) -> float:
    """The base model's validation WER (step 0) when it was taken, else the best trained point's."""
    base = [float(r[WER]) for r in history if r.get("step", 0) == 0 and WER in r]
    if base:
        return base[-1]
    return min(float(r[WER]) for r in validation_points(history) if WER in r)


def best_step(history: Sequence[Mapping[str, float]], wer_margin: float) -> int | None:
    ranked = rank(history, wer_margin)
    return ranked[0].step if ranked else None


def stale_for(history: Sequence[Mapping[str, float]], wer_margin: float, step: int) -> int:
    """Steps since the best-ranked point (0 when there is none): the early-stop clock."""
    best = best_step(history, wer_margin)
    return 0 if best is None else step - best
