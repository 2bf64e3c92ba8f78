"""The ingest and prepare flows under one Prefect harness, on file:// and on s3:// (moto)."""

import json
import subprocess

import pytest

from provoice import synthetic
from provoice.catalog import Catalog
from provoice.settings import ACCEPTED_FORMATS, Settings
from provoice.storage import Storage
from provoice.views import stored
from tests.conftest import wer

pytestmark = pytest.mark.integration


def build_upload(folder, speech_dir):
    """One sentence per accepted format, plus every bad case; returns expected texts per name."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = {}
    for i, fmt in enumerate(ACCEPTED_FORMATS):
        wav = synthetic.speak(synthetic.SENTENCES[i], folder / f"src{i}.tmp.wav")
        name = f"take {i} — é.{fmt}" if fmt == "flac" else f"take{i}.{fmt}"
        synthetic.encode(wav, folder / name, fmt)
        wav.unlink()
        texts[name] = synthetic.SENTENCES[i]
    bad = synthetic.bad_files(folder / "bad", speech_dir / "main.wav")
    (folder.parent / "later").mkdir(exist_ok=True)
    (folder.parent / "later" / "take0-again.wav").write_bytes((folder / "take0.wav").read_bytes())
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(speech_dir / "main.wav"),
            "-ar",
            "8000",
            "-c:a",
            "pcm_mulaw",
            str(folder / "bad" / "telephone.wav"),
        ],
        check=True,
    )
    (folder / "bad" / "guest.wav").write_bytes((speech_dir / "other.wav").read_bytes())
    return texts, bad


def _run(sources):
    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset

    settings = Settings()
    ds = Catalog(settings).create_dataset("voice")
    ingest_files(ds.id, sources)
    return ds.id, stored(prepare_dataset(ds.id))


def _check_summary(summary, texts, settings):
    files = {f["name"]: f for f in summary["files"]}
    for name, _text in texts.items():
        assert files[name]["status"] == "accepted", files[name]
    reasons = {name: (files[name]["status"], files[name]["reason"] or "") for name in files}
    assert reasons["empty.wav"] == ("rejected", "empty file (0 bytes)")
    assert reasons["truncated.mp3"][1].startswith("truncated or damaged mp3")
    assert reasons["notes.wav"][1].startswith("not a readable audio file")
    assert reasons["speech.aiff"][1].startswith("unsupported audio format")
    assert "silent" in reasons["silence.wav"][1]
    assert reasons["noise.wav"][1].startswith("no speech")
    assert reasons["music.wav"][1].startswith("no speech")
    assert reasons["clipped.wav"][1].startswith("clipping")
    assert reasons["guest.wav"][1].startswith("different speaker")
    assert reasons["take0-again.wav"][1] == f"duplicate of 'take0.wav' ({files['take0.wav']['id']})"
    assert reasons["telephone.wav"][0] == "rejected" and reasons["telephone.wav"][1].startswith("telephone-band audio")
    storage = Storage.from_settings(settings)
    report = storage.read_json(storage.key_of(summary["report_uri"]))
    assert any(w.startswith("telephone.wav: low bandwidth") for w in report["warnings"])
    assert summary["enough"] is (summary["accepted_seconds"] >= summary["min_seconds"])
    manifest = [
        json.loads(x) for x in storage.read_bytes(storage.key_of(summary["manifest_uri"])).decode().splitlines()
    ]
    assert {"audio_uri", "duration", "text", "file_id", "start", "end", "metrics"} <= set(manifest[0])
    assert sum(r["duration"] for r in manifest) == pytest.approx(summary["accepted_seconds"], abs=0.01)
    by_id = {f["id"]: f["name"] for f in summary["files"]}
    errors = [wer(texts[by_id[r["file_id"]]], r["text"]) for r in manifest if by_id[r["file_id"]] in texts]
    assert sum(errors) / len(errors) < 0.3
    return files


def test_prepare_on_local_storage_reruns_and_edits(prefect_harness, settings, speech_dir, tmp_path, monkeypatch):
    texts, _ = build_upload(tmp_path / "upload", speech_dir)
    ds_id, summary = _run([str(tmp_path / "upload"), str(tmp_path / "later")])
    files = _check_summary(summary, texts, settings)
    catalog = Catalog(settings)
    assert catalog.latest_run(ds_id).version == summary["version"]

    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset

    def boom(*a, **k):
        raise AssertionError("per-file work repeated")

    for name in ("convert", "segment", "transcribe_segments", "embed_many"):
        monkeypatch.setattr(f"provoice.dataset.steps.{name}", boom)
    again = prepare_dataset(ds_id).model_dump()
    assert again["version"] == summary["version"] and again["files"] == summary["files"]

    monkeypatch.undo()
    monkeypatch.setenv("PROVOICE_HOME", str(settings.home))
    monkeypatch.setenv("PROVOICE_MIN_SPEECH_SECONDS", "30")
    seen = []
    import provoice.dataset.steps as steps

    real_convert = steps.convert
    monkeypatch.setattr(steps, "convert", lambda src, *a, **k: seen.append(src) or real_convert(src, *a, **k))
    extra = synthetic.speak(synthetic.SENTENCES[0], tmp_path / "extra.wav")
    ingest_files(ds_id, [str(extra)])
    catalog.remove_file(ds_id, files["take1.mp3"]["id"])
    third = prepare_dataset(ds_id).model_dump()
    assert len(seen) == 1 and third["version"] != summary["version"]
    names = {f["name"]: f for f in third["files"]}
    assert names["extra.wav"]["status"] == "accepted" and "take1.mp3" not in names
    assert names["take2.flac" if "take2.flac" in names else "take 2 — é.flac"]["status"] == "accepted"


def test_prepare_on_s3_from_an_s3_prefix(prefect_harness, s3_settings, speech_dir, tmp_path):
    import s3fs

    texts, _ = build_upload(tmp_path / "upload", speech_dir)
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_settings.s3_endpoint_url})
    bucket = s3_settings.storage_uri.split("/")[2]
    fs.put(str(tmp_path / "upload") + "/", f"{bucket}/uploads/", recursive=True)
    fs.put(str(tmp_path / "later") + "/", f"{bucket}/later/", recursive=True)
    _ds_id, summary = _run([f"s3://{bucket}/uploads", f"s3://{bucket}/later"])
    assert summary["manifest_uri"].startswith(f"s3://{bucket}/store/")
    _check_summary(summary, texts, s3_settings)
