"""Word timestamps from phoneme durations."""

from __future__ import annotations

import numpy as np
import pytest

from provoice.tts.text.frontend import PhonemeMap
from provoice.tts.timestamps import word_times

MAP = PhonemeMap.from_dict({"^": 1, "$": 2, "_": 0, " ": 3, "h": 4, "a": 5, "i": 6, ".": 7})


def ids_of(phonemes: str) -> list[int]:
    return MAP.ids(list(phonemes))


def test_each_word_spans_its_phonemes():
    ids = ids_of("hi ha.")  # ^ _ h _ i _ ' ' _ h _ a _ . _ $
    frames = np.array([2, 1, 3, 1, 3, 1, 4, 1, 2, 1, 2, 1, 1, 1, 2])
    words = word_times("Hi ha.", ids, frames, MAP, seconds_per_frame=0.01, offset_s=1.0)
    assert [w.word for w in words] == ["Hi", "ha."]
    assert (words[0].start, words[0].end) == (1.03, 1.1)  # from "h" to the end of "i"
    assert (words[1].start, words[1].end) == (1.16, 1.23)  # the full stop is the word's
    assert words[0].end <= words[1].start


def test_words_espeak_reads_differently_share_the_spoken_span_by_length():
    ids = ids_of("ha ha ha.")
    frames = np.ones(len(ids))
    words = word_times("Two words.", ids, frames, MAP, seconds_per_frame=0.1)
    assert [w.word for w in words] == ["Two", "words."]
    assert words[0].start == 0.2 and words[1].end == pytest.approx(1.9)
    assert words[0].end == words[1].start
