"""The sentence loop every synthesis backend shares (torch and onnxruntime), without torch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from provoice.tts.formats.base_meta import BaseModelMeta

SENTENCE_PAUSE_S = 0.25


def spoken_sentences(
    meta: BaseModelMeta, text: str, sentence_pause_s: float, render: Callable[[list[int]], np.ndarray]
) -> Iterator[tuple[str, np.ndarray]]:
    """The text's sentences rendered one at a time by `render` (phoneme ids → audio), each after
    the first led by the pause: the loop every synthesis backend shares."""
    pause = np.zeros(round(sentence_pause_s * meta.sample_rate), dtype=np.float32)
    for i, (sentence, ids) in enumerate(meta.front_end().sentence_units(text)):
        audio = render(ids)
        yield sentence, (np.concatenate([pause, audio]) if i else audio)


def timed_sentences(
    meta: BaseModelMeta,
    text: str,
    sentence_pause_s: float,
    render: Callable[[list[int]], tuple[np.ndarray, np.ndarray]],
) -> Iterator[SpokenSentence]:
    """As `spoken_sentences`, with `render` also giving frames per phoneme id, each piece carrying
    its words' times (seconds from the start of the piece, pause included)."""
    from provoice.tts.text.frontend import PhonemeMap
    from provoice.tts.timestamps import word_times

    pause = np.zeros(round(sentence_pause_s * meta.sample_rate), dtype=np.float32)
    phoneme_map = PhonemeMap.from_dict(meta.phoneme_id_map)
    seconds_per_frame = meta.config.hop_length / meta.sample_rate
    for i, (sentence, ids) in enumerate(meta.front_end().sentence_units(text)):
        audio, frames = render(ids)
        lead = pause.size / meta.sample_rate if i else 0.0
        words = word_times(sentence, ids, frames, phoneme_map, seconds_per_frame, lead)
        yield SpokenSentence(sentence, np.concatenate([pause, audio]) if i else audio, words)


@dataclass(frozen=True)
class SpokenSentence:
    """One sentence as spoken: its normalised text, its audio, and its words' times in that audio."""

    text: str
    audio: np.ndarray
    words: list
