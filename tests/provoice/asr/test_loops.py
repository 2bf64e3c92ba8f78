"""A decode that loops in a trimmed window is decoded again over Whisper's full 30 s window."""

from typing import ClassVar

import numpy as np

from provoice.asr import whisper
from provoice.asr.whisper import FULL_WINDOW_FRAMES, Transcript, repeats_words, transcribe_segments
from provoice.audio.wavio import write_wav


def test_repeated_word_runs_are_loops_and_ordinary_sentences_are_not():
    looped = "A tired nurse returned a bag of warm bread. A tired nurse returned a bag of warm bread."
    assert repeats_words(looped)
    assert not repeats_words("The bus was late again, so we walked the last mile to work.")
    assert not repeats_words("Very, very, very good.")  # a short run said again is speech, not a loop


class FakeDecoder:
    """Loops whenever its window is trimmed, reads the words right over the full window; records
    the windows it was asked for."""

    windows: ClassVar[list[int]] = []

    def __init__(self, model, beam_size, *, cap_tokens=True):
        FakeDecoder.windows = []

    def __call__(self, pieces, margin_frames):
        FakeDecoder.windows.append(margin_frames)
        full = margin_frames >= FULL_WINDOW_FRAMES
        text = "the right words" if full else "the right words the right words the right words"
        return [whisper._Decoded(Transcript(text, -0.1, 0.0, 1.0, 0.9), looped=not full) for _ in pieces]


def test_a_looping_segment_is_decoded_again_over_the_full_window(monkeypatch, tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(16000 * 3, np.float32), 16000)
    monkeypatch.setattr(whisper, "_BatchDecoder", FakeDecoder)
    bounds = [(0.0, 1.0), (1.0, 2.5)]
    fixed = transcribe_segments(None, tmp_path / "a.wav", bounds, window_margin_s=1.0)
    assert [t.text for t in fixed] == ["the right words"] * 2
    assert FakeDecoder.windows == [100, FULL_WINDOW_FRAMES]
    kept = transcribe_segments(None, tmp_path / "a.wav", bounds, window_margin_s=1.0, retry_loops=False)
    assert all(repeats_words(t.text) for t in kept)
    assert FakeDecoder.windows == [100]
