"""Evaluate a voice model: intelligibility (WER by faster-whisper), speaker similarity to real
held-out speech (resemblyzer cosine) and predicted quality (DNSMOS from `speechmos`).

The synthesiser is passed in as a function, so the same evaluation scores a base model, a
checkpoint during training (validation) and a finished fine-tune.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from provoice.asr.wer import word_error_rate
from provoice.audio.resample import SPEECH_RATE, to_16k
from provoice.loading import once_per_process

HELD_OUT_SENTENCES = (
    "The committee will meet again on Thursday to review the budget.",
    "Please turn off the lights when you leave the meeting room.",
    "A gentle breeze carried the smell of rain across the valley.",
    "Our new office is just a short walk from the central station.",
    "He reminded everyone to bring a notebook and a pen tomorrow.",
    "The garden looked beautiful after the long summer afternoon.",
)


@dataclass
class Evaluation:
    wer: float
    speaker_similarity: float | None
    dnsmos: float
    sentences: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {"wer": round(self.wer, 4),
                "speaker_similarity": None if self.speaker_similarity is None else round(self.speaker_similarity, 4),
                "dnsmos": round(self.dnsmos, 3)}

    def to_dict(self) -> dict:
        return asdict(self)


@once_per_process()
def load_dnsmos():
    """speechmos's DNSMOS models (ONNX, shipped in the package); its own `run` keeps them in an
    unguarded global, so concurrent first calls would each load them."""
    from pathlib import Path

    from speechmos import dnsmos

    models = Path(dnsmos.__file__).parent / "dnsmos_models"
    return dnsmos.DNSMOS(str(models / "sig_bak_ovr.onnx"), str(models / "model_v8.onnx"))


def dnsmos_overall(audio16k: np.ndarray) -> float:
    """DNSMOS P.835 overall score (1–5) of 16 kHz audio."""
    return float(load_dnsmos()(np.clip(audio16k, -1.0, 1.0), SPEECH_RATE, False)["ovrl_mos"])


def split_held_out(rows: Sequence[dict], count: int = 8) -> tuple[list[dict], list[dict]]:
    """A deterministic (train, held-out) split of manifest rows by a hash of their id.

    At most a fifth of the rows is held out (at least one when there are two or more), so small
    datasets keep most of their speech for training.
    """
    ranked = sorted(rows, key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
    held = {r["id"] for r in ranked[: min(count, max(1, len(rows) // 5) if len(rows) > 1 else 0)]}
    return [r for r in rows if r["id"] not in held], [r for r in rows if r["id"] in held]


def evaluate(synthesise: Callable[[str], tuple[np.ndarray, int]], asr_model, encoder,
             reference_voice: np.ndarray | None = None,
             sentences: Sequence[str] = HELD_OUT_SENTENCES) -> Evaluation:
    """Synthesise `sentences` and score them; `reference_voice` is the speaker embedding of real
    held-out clips (`provoice.quality.speaker.voice_of`), compared with each synthesised one."""
    from provoice.asr.whisper import transcribe_one
    from provoice.quality.speaker import embed

    centroid = reference_voice
    rows, errors, sims, scores = [], [], [], []
    for text in sentences:
        audio, rate = synthesise(text)
        a16 = to_16k(audio, rate)
        hyp = transcribe_one(asr_model, a16).text
        err = word_error_rate(text, hyp)
        mos = dnsmos_overall(a16)
        sim = None
        if centroid is not None:
            e = embed(encoder, a16)
            sim = float(e @ centroid) if e is not None else 0.0
            sims.append(sim)
        errors.append(err)
        scores.append(mos)
        rows.append({"text": text, "transcript": hyp, "wer": round(err, 4), "dnsmos": round(mos, 3),
                     "speaker_similarity": None if sim is None else round(sim, 4)})
    return Evaluation(wer=float(np.mean(errors)), speaker_similarity=float(np.mean(sims)) if sims else None,
                      dnsmos=float(np.mean(scores)), sentences=rows)
