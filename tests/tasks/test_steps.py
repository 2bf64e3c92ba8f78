"""Each task through `task.fn()`: the thin shells call the cached steps and reject bad files."""

import pytest

from provoice import synthetic
from provoice.dataset.ingest import ingest_source
from provoice.dataset.sources import list_sources
from provoice.errors import FileRejected, TransientError
from provoice.storage import Storage
from tasks.convert import convert_file
from tasks.ingest import ingest_file
from tasks.quality import check_quality, check_speakers
from tasks.retry import is_transient
from tasks.segment import segment_file
from tasks.transcribe import transcribe_file
from tests.conftest import MAIN_TEXT, wer


def test_step_chain_and_cache(settings, speech_dir, monkeypatch):
    src = list_sources([str(speech_dir / "main.wav")], settings)[0]
    ing = ingest_file.fn(src, settings)
    conv = convert_file.fn(settings, ing.sha256, ing.raw_uri)
    seg = segment_file.fn(settings, conv)
    tr = transcribe_file.fn(settings, seg)
    q = check_quality.fn(settings, tr)
    assert [s["reason"] for s in q["segments"]] == [None] * len(q["segments"])
    assert wer(" ".join(MAIN_TEXT), " ".join(s["text"] for s in q["segments"])) < 0.35
    _qualities, speakers = check_speakers.fn(settings, {"f1": q})
    assert speakers.median_similarity > 0.8
    assert len(speakers.voice) == 256 and abs(sum(v * v for v in speakers.voice) - 1) < 1e-3
    storage = Storage.from_settings(settings)
    work = storage.list(f"work/{ing.sha256}")
    assert any(k.endswith("audio.wav") for k in work) and any(k.endswith("quality.json") for k in work)

    def boom(*a, **k):
        raise AssertionError("cached step ran again")

    monkeypatch.setattr("provoice.dataset.steps.convert", boom)
    monkeypatch.setattr("provoice.dataset.steps.transcribe_segments", boom)
    assert convert_file.fn(settings, ing.sha256, ing.raw_uri) == conv
    assert transcribe_file.fn(settings, seg) == tr


def test_rejections_are_cached_too(settings, speech_dir, tmp_path, monkeypatch):
    bad = synthetic.bad_files(tmp_path / "bad", speech_dir / "main.wav")
    ing = ingest_source(list_sources([str(bad["truncated_mp3"])], settings)[0], settings)
    with pytest.raises(FileRejected, match="truncated"):
        convert_file.fn(settings, ing.sha256, ing.raw_uri)
    monkeypatch.setattr("provoice.dataset.steps.convert", lambda *a, **k: 1 / 0)
    with pytest.raises(FileRejected, match="truncated"):
        convert_file.fn(settings, ing.sha256, ing.raw_uri)


def test_retry_policy_only_retries_transient_errors():
    assert is_transient(TransientError("s3 hiccup")) and is_transient(ConnectionError())
    assert not is_transient(FileRejected("bad file")) and not is_transient(ValueError())
