import shutil

import pytest

from provoice import synthetic
from provoice.audio.probe import probe
from provoice.errors import CorruptAudio, UnsupportedFormat
from provoice.settings import ACCEPTED_FORMATS

EXPECTED = {"oga": "ogg", "ogx": "ogg"}


@pytest.mark.parametrize("fmt", ACCEPTED_FORMATS)
def test_every_accepted_format_is_detected_by_content(speech_dir, tmp_path, fmt):
    encoded = synthetic.encode(speech_dir / "main.wav", tmp_path / f"clip.{fmt}", fmt)
    disguised = tmp_path / "upload.bin"
    shutil.copy(encoded, disguised)
    info = probe(disguised)
    assert info.format == EXPECTED.get(fmt, fmt)
    assert info.duration_s == pytest.approx(9.5, abs=3)


def test_bad_inputs_have_specific_reasons(speech_dir, tmp_path):
    bad = synthetic.bad_files(tmp_path, speech_dir / "main.wav")
    with pytest.raises(CorruptAudio, match=r"empty file \(0 bytes\)"):
        probe(bad["empty"])
    with pytest.raises(CorruptAudio, match="not a readable audio file"):
        probe(bad["text_as_wav"])
    with pytest.raises(UnsupportedFormat, match="AIFF|aiff") as exc:
        probe(bad["aiff"])
    assert "accepted formats: wav, mp3" in str(exc.value)
