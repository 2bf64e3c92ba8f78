"""Cut detection on generated speech: a re-encoded, re-levelled cut is found, a new reading is not."""

import subprocess

from provoice import synthetic
from provoice.audio.convert import convert
from provoice.audio.wavio import read_slice
from provoice.consent.copies import MATCH, best_match, find_cut, probe_windows


def _view(src, folder, name):
    out = folder / f"{name}16.wav"
    convert(src, folder / f"{name}.wav", out)
    return out


def test_a_cut_is_found_and_a_new_reading_is_not(tmp_path):
    source = synthetic.speech_file(tmp_path / "chapter.wav", synthetic.corpus(30))
    view = _view(source, tmp_path, "chapter")
    cut = tmp_path / "cut.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-ss",
            "9.7",
            "-t",
            "6",
            "-i",
            str(source),
            "-filter:a",
            "volume=0.4",
            str(cut),
        ],
        check=True,
    )
    x = read_slice(_view(cut, tmp_path, "cut"), 0, 60)
    match = find_cut(x, [("chapter.wav", view)])
    assert match is not None and match.source == "chapter.wav" and 9 <= match.at_s <= 16

    fresh = synthetic.speak("I am Dana, and my one-time words are orange, bridge and candle.", tmp_path / "new.wav")
    y = read_slice(_view(fresh, tmp_path, "new"), 0, 60)
    corr, _ = best_match(probe_windows(y), view)
    assert corr < MATCH / 2
    assert find_cut(y, [("chapter.wav", view)]) is None


def test_small_blocks_find_the_same_match(tmp_path):
    source = synthetic.speech_file(tmp_path / "chapter.wav", synthetic.corpus(20))
    view = _view(source, tmp_path, "chapter")
    x = read_slice(view, 5.0, 9.0)
    whole = best_match(probe_windows(x), view)
    blocked = best_match(probe_windows(x), view, nfft=1 << 15)
    assert whole[0] > 0.99 and abs(whole[1] - blocked[1]) < 0.01 and abs(whole[0] - blocked[0]) < 1e-3
