import subprocess
import tracemalloc
import wave

import numpy as np
import pytest

from provoice import synthetic
from provoice.audio.convert import convert
from provoice.audio.wavio import read_slice
from provoice.errors import CorruptAudio, NotEnoughSpeech


def _rms_dbfs(path) -> float:
    x = read_slice(path, 0, 1e9)
    return 20 * np.log10(np.sqrt(np.mean(x**2)))


@pytest.mark.parametrize("fmt", ["mp3", "opus", "wma"])
def test_output_is_mono_22k_pcm_and_normalised(speech_dir, tmp_path, fmt):
    src = tmp_path / f"in.{fmt}"
    synthetic.encode(speech_dir / "main.wav", src, fmt, extra=["-ac", "2", "-af", "volume=-18dB"])
    original = src.read_bytes()
    conv = convert(src, tmp_path / "o.wav", tmp_path / "o16.wav", target_dbfs=-20)
    with wave.open(str(tmp_path / "o.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
    with wave.open(str(tmp_path / "o16.wav")) as w:
        assert w.getframerate() == 16000
    assert conv.gain_db > 10
    assert src.read_bytes() == original
    assert conv.peak_dbfs + conv.gain_db <= -0.9


def test_truncated_mp3_and_silence_are_rejected(speech_dir, tmp_path):
    bad = synthetic.bad_files(tmp_path, speech_dir / "main.wav")
    with pytest.raises(CorruptAudio, match="truncated or damaged mp3: the header says"):
        convert(bad["truncated_mp3"], tmp_path / "a.wav", tmp_path / "b.wav")
    with pytest.raises(NotEnoughSpeech, match="silent"):
        convert(bad["silence"], tmp_path / "a.wav", tmp_path / "b.wav")


def test_telephone_audio_gets_low_bandwidth_warning(speech_dir, tmp_path):
    tel = tmp_path / "tel.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(speech_dir / "main.wav"), "-ar", "8000", str(tel)], check=True)
    up = tmp_path / "tel_44k.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(tel), "-ar", "44100", str(up)], check=True)
    for src in (tel, up):
        conv = convert(src, tmp_path / "o.wav", tmp_path / "o16.wav")
        assert conv.bandwidth_hz <= 4600
        assert any("low bandwidth" in w for w in conv.warnings)
    wide = convert(speech_dir / "main.wav", tmp_path / "o.wav", tmp_path / "o16.wav")
    assert wide.warnings == [] and wide.bandwidth_hz > 8000


def test_long_file_converts_in_bounded_memory(speech_dir, tmp_path):
    """Ten minutes of audio: Python-side allocations stay far below one copy of the file."""
    x = read_slice(speech_dir / "main.wav", 0, 1e9)
    reps = int(600 / (len(x) / 22050)) + 1
    long_wav = tmp_path / "long.wav"
    with wave.open(str(long_wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(22050)
        chunk = (x * 32767).astype("<i2").tobytes()
        for _ in range(reps):
            w.writeframes(chunk)
    file_bytes = long_wav.stat().st_size
    tracemalloc.start()
    conv = convert(long_wav, tmp_path / "o.wav", tmp_path / "o16.wav")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert conv.duration_s >= 600
    assert peak < file_bytes / 4, f"peak Python allocation {peak} for a {file_bytes}-byte file"
