import numpy as np

from provoice import synthetic
from provoice.audio.convert import convert
from provoice.audio.vad import _merge_short, _split_long, segment


def test_speech_is_cut_into_bounded_utterances(tmp_path):
    src = synthetic.speech_file(tmp_path / "s.wav", synthetic.corpus(60))
    convert(src, tmp_path / "o.wav", tmp_path / "o16.wav")
    seg = segment(tmp_path / "o16.wav", min_s=1.0, max_s=15.0)
    durations = [b - a for a, b in seg.segments]
    assert len(durations) >= 8
    assert all(1.0 <= d <= 15.0 for d in durations)
    assert all(a1 >= b0 for (_, b0), (a1, _) in zip(seg.segments, seg.segments[1:]))
    assert seg.speech_ratio > 0.7


def test_long_speech_splits_at_the_quietest_point():
    energy = np.full(1000, -20.0, dtype=np.float32)
    energy[620:630] = -80.0
    pieces = _split_long(0, 1000, energy, min_f=34, max_f=700)
    assert len(pieces) == 2 and 615 <= pieces[0][1] <= 632


def test_short_pieces_merge_or_drop():
    merged = _merge_short([(0, 50), (60, 70), (500, 510)], min_f=34, max_f=400, gap_f=30)
    assert merged == [(0, 70)]


def test_max_segment_is_respected_for_continuous_speech(tmp_path):
    src = synthetic.speech_file(tmp_path / "s.wav", synthetic.corpus(40))
    convert(src, tmp_path / "o.wav", tmp_path / "o16.wav")
    seg = segment(tmp_path / "o16.wav", min_s=1.0, max_s=5.0)
    assert seg.segments and all(b - a <= 5.0 + 1e-6 for a, b in seg.segments)
