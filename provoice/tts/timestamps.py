"""Word timestamps from the model's own phoneme durations: no second model, no forced alignment.

The duration predictor gives every phoneme id a number of frames; the ids of one sentence are
Piper's (BOS, then each phoneme followed by the pad, then EOS), and espeak-ng separates words with
the space phoneme. So a word starts where the phonemes after a space start and ends where the next
space starts. When espeak-ng's words do not pair one to one with the text's (it reads "1,200" as
three words), the text's words share the spoken span by their length in characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provoice.tts.text.frontend import BOS, EOS, PAD, PhonemeMap

WORD_BREAK = " "


@dataclass(frozen=True)
class WordTime:
    """One word of the text and when it is spoken, in seconds from the start of the audio."""

    word: str
    start: float
    end: float


def word_times(
    sentence: str,
    ids: list[int],
    frames: np.ndarray,
    phoneme_map: PhonemeMap,
    seconds_per_frame: float,
    offset_s: float = 0.0,
) -> list[WordTime]:
    """The words of `sentence`, timed by `frames` (one count per id of `ids`), shifted by `offset_s`."""
    words = sentence.split()
    frames = np.asarray(frames, dtype=np.float64).reshape(-1)[: len(ids)]
    if not words or frames.size == 0:
        return []
    ends = np.cumsum(frames) * seconds_per_frame + offset_s
    starts = ends - frames * seconds_per_frame
    breaks = set(phoneme_map.ids_of.get(WORD_BREAK, ()))
    skip = {i for symbol in (BOS, EOS, PAD) for i in phoneme_map.ids_of[symbol]}
    spans: list[tuple[float, float]] = []
    first: int | None = None
    last: int | None = None
    for position, symbol in enumerate(ids[: frames.size]):
        if symbol in breaks:
            if first is not None:
                spans.append((float(starts[first]), float(ends[last])))
            first = last = None
        elif symbol not in skip:
            first = position if first is None else first
            last = position
    if first is not None:
        spans.append((float(starts[first]), float(ends[last])))
    if not spans:
        return []
    if len(spans) == len(words):
        return [WordTime(w, round(float(a), 3), round(float(b), 3)) for w, (a, b) in zip(words, spans)]
    return _shared(words, spans[0][0], spans[-1][1])


def _shared(words: list[str], start: float, end: float) -> list[WordTime]:
    weights = np.array([len(w) for w in words], dtype=np.float64)
    edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return [WordTime(w, round(float(a), 3), round(float(b), 3)) for w, a, b in zip(words, edges[:-1], edges[1:])]
