"""Evaluate a voice model: intelligibility (WER by faster-whisper), speaker similarity to real
held-out speech (resemblyzer cosine) and predicted quality (DNSMOS from `speechmos`).

The synthesiser is passed in as a function, so the same evaluation scores a base model, a
checkpoint during training (validation) and a finished fine-tune.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from provoice.asr.wer import word_error_rate
from provoice.audio.resample import SPEECH_RATE, to_16k
from provoice.loading import once_per_process
from provoice.views import Evaluation

#: Sentences every evaluation synthesises (none appears in the validation set or the demo data).
#: Sixteen, decoded with beam search: single sentences swing from 0 to 0.9 WER, so fewer make the
#: mean too noisy to compare two models by (docs/BENCHMARKS.md has the measured spread).
HELD_OUT_SENTENCES = (
    "The committee will meet again on Thursday to review the budget.",
    "Please turn off the lights when you leave the meeting room.",
    "A gentle breeze carried the smell of rain across the valley.",
    "Our new office is just a short walk from the central station.",
    "He reminded everyone to bring a notebook and a pen tomorrow.",
    "The garden looked beautiful after the long summer afternoon.",
    "My sister bought fresh bread and cheese at the market this morning.",
    "The pilot announced that the flight would land twenty minutes early.",
    "We should finish the painting before the guests arrive on Saturday.",
    "The museum keeps its oldest paintings in a room without windows.",
    "Could you send me the address of the hotel before noon?",
    "The river rose quickly after three days of heavy rain.",
    "Every student must return the library books by the end of June.",
    "The doctor told him to drink more water and sleep longer.",
    "A small boat drifted slowly toward the rocky island.",
    "Nobody expected the old clock in the hall to start ticking again.",
)
#: Beam search transcribes the real speaker best (greedy decoding adds errors of its own).
EVAL_BEAM_SIZE = 5


@once_per_process()
def load_dnsmos():
    """speechmos's DNSMOS models (ONNX, shipped in the package); its own `run` keeps them in an
    unguarded global, so concurrent first calls would each load them."""
    from pathlib import Path

    from speechmos import dnsmos

    models = Path(dnsmos.__file__).parent / "dnsmos_models"
    return dnsmos.DNSMOS(str(models / "sig_bak_ovr.onnx"), str(models / "model_v8.onnx"))


def dnsmos_overall(audio16k: np.ndarray) -> float:
    """DNSMOS P.835 overall score (1–5) of 16 kHz audio: speechmos's own score, computed with less.

    speechmos runs two networks on every window, P.835 (signal, background, overall) and P.808,
    one window at a time; the overall score reads only P.835. Its windows go through P.835 alone,
    in one batch, and its polynomial maps them: the same number (a test holds it to speechmos's)
    for about a fifth less CPU."""
    model = load_dnsmos()
    raw = model.onnx_sess.run(None, {"input_1": dnsmos_windows(np.clip(audio16k, -1.0, 1.0))})[0]
    _, _, overall = model.get_polyfit_val(raw[:, 0], raw[:, 1], raw[:, 2], False)
    return float(np.mean(overall))


def dnsmos_windows(audio16k: np.ndarray) -> np.ndarray:
    """speechmos's DNSMOS windows of a clip, stacked: the clip doubled until it lasts the input's
    9.01 s, then a window every second (its bounds and its skip of a short one kept as they are)."""
    from speechmos.dnsmos import INPUT_LENGTH

    fs, audio = SPEECH_RATE, np.asarray(audio16k)
    length = int(INPUT_LENGTH * fs)
    while len(audio) < length:
        audio = np.append(audio, audio)
    hops = int(np.floor(len(audio) / fs) - INPUT_LENGTH) + 1
    windows = [audio[int(i * fs) : int((i + INPUT_LENGTH) * fs)] for i in range(hops)]
    return np.stack([w for w in windows if len(w) >= length]).astype(np.float32)


#: Real segments a dataset holds out of training, to evaluate and validate against.
HELD_OUT_SEGMENTS = 8


def split_held_out(rows: Sequence[dict], count: int = HELD_OUT_SEGMENTS) -> tuple[list[dict], list[dict]]:
    """A deterministic (train, held-out) split of manifest rows by a hash of their id.

    At most a fifth of the rows is held out (at least one when there are two or more), so small
    datasets keep most of their speech for training.
    """
    ranked = sorted(rows, key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
    held = {r["id"] for r in ranked[: min(count, max(1, len(rows) // 5) if len(rows) > 1 else 0)]}
    return [r for r in rows if r["id"] not in held], [r for r in rows if r["id"] in held]


def evaluate(
    synthesise: Callable[[str], tuple[np.ndarray, int]],
    asr_model,
    encoder,
    reference_voice: np.ndarray | None = None,
    sentences: Sequence[str] = HELD_OUT_SENTENCES,
    beam_size: int = EVAL_BEAM_SIZE,
) -> Evaluation:
    """Synthesise `sentences` and score them; `reference_voice` is the speaker embedding of real
    held-out clips (`provoice.quality.speaker.voice_of`), compared with each synthesised one.

    Synthesis runs ahead on a thread of its own while the readings already made are scored: torch,
    Whisper and DNSMOS each let go of the GIL, so the two share the cores instead of taking turns."""

    def reading(text: str) -> np.ndarray:
        audio, rate = synthesise(text)
        return to_16k(audio, rate)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthesis") as synthesis:
        readings = synthesis.map(reading, sentences)
        return score_audio(sentences, readings, SPEECH_RATE, asr_model, encoder, reference_voice, beam_size)


def combine_seeds(evaluations: Sequence[Evaluation], seeds: Sequence[int]) -> Evaluation:
    """One evaluation of several synthesis seeds of the same sentences: means over every reading,
    each sentence row tagged with its seed, and each seed's own WER (the spread of single runs)."""
    rows = [{**row, "seed": seed} for ev, seed in zip(evaluations, seeds, strict=True) for row in ev.sentences]
    sims = [r["speaker_similarity"] for r in rows if r["speaker_similarity"] is not None]
    return Evaluation(
        wer=float(np.mean([r["wer"] for r in rows])),
        speaker_similarity=float(np.mean(sims)) if sims else None,
        dnsmos=float(np.mean([r["dnsmos"] for r in rows])),
        sentences=rows,
        wer_by_seed=[ev.wer for ev in evaluations] if len(evaluations) > 1 else [],
    )


def score_audio(
    texts: Sequence[str],
    audios: Iterable[np.ndarray],
    rate: int,
    asr_model,
    encoder,
    reference_voice: np.ndarray | None = None,
    beam_size: int = EVAL_BEAM_SIZE,
) -> Evaluation:
    """Score speech that should say `texts`: the shared core of evaluation and training validation."""
    from provoice.asr.whisper import transcribe_one
    from provoice.quality.speaker import embed

    rows, errors, sims, scores = [], [], [], []
    for text, audio in zip(texts, audios, strict=True):
        a16 = to_16k(audio, rate)
        hyp = transcribe_one(asr_model, a16, beam_size=beam_size).text
        err = word_error_rate(text, hyp)
        mos = dnsmos_overall(a16)
        sim = None
        if reference_voice is not None:
            e = embed(encoder, a16)
            sim = float(e @ reference_voice) if e is not None else 0.0
            sims.append(sim)
        errors.append(err)
        scores.append(mos)
        rows.append(
            {
                "text": text,
                "transcript": hyp,
                "wer": round(err, 4),
                "dnsmos": round(mos, 3),
                "speaker_similarity": None if sim is None else round(sim, 4),
            }
        )
    return Evaluation(
        wer=float(np.mean(errors)),
        speaker_similarity=float(np.mean(sims)) if sims else None,
        dnsmos=float(np.mean(scores)),
        sentences=rows,
    )


def ceiling_similarity(embeddings: Sequence[np.ndarray | None]) -> float | None:
    """Mean similarity of each real held-out clip to the voice of the others (leave-one-out, so a
    clip is never compared with itself): what a perfect clone of this speaker would score. Takes the
    clips' embeddings (`HeldOut.embeddings`), made once for the voice and the ceiling."""
    from provoice.quality.speaker import mean_direction

    embedded = [e for e in embeddings if e is not None]
    sims = []
    for i, e in enumerate(embedded):
        others = mean_direction(x for j, x in enumerate(embedded) if j != i)
        if others is not None:
            sims.append(float(e @ others))
    return float(np.mean(sims)) if sims else None
