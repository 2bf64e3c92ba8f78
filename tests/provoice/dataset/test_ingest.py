import pytest

from provoice import synthetic
from provoice.catalog import Catalog
from provoice.dataset.files import processable, register
from provoice.dataset.ingest import ingest_source
from provoice.dataset.sources import list_sources
from provoice.dataset.version import dataset_version
from provoice.errors import InvalidSource
from provoice.storage import Storage


def test_ingest_copies_originals_untouched_and_dedups(settings, speech_dir, tmp_path):
    up = tmp_path / "uploads"
    up.mkdir()
    names = ["Prüfung ñandú 音声.wav", "copy.wav", "../../etc/passwd.wav"]
    (up / names[0]).write_bytes((speech_dir / "main.wav").read_bytes())
    (up / names[1]).write_bytes((speech_dir / "main.wav").read_bytes())
    sources = list_sources([str(up)], settings)
    assert sorted(s.display_name for s in sources) == sorted(names[:2])
    catalog = Catalog(settings)
    ds = catalog.create_dataset("d")
    records = [register(catalog, ds.id, ingest_source(s, settings)) for s in sources]
    first, dup = sorted(records, key=lambda r: r.duplicate_of is not None)
    assert first.status == "pending" and first.format == "wav" and processable(first)
    assert dup.status == "rejected" and dup.duplicate_of == first.id and not processable(dup)
    assert f"duplicate of {first.original_name!r}" in dup.reason
    storage = Storage.from_settings(settings)
    key = storage.key_of(first.raw_uri)
    assert key == f"raw/{first.sha256[:2]}/{first.sha256}"
    assert storage.read_bytes(key) == (speech_dir / "main.wav").read_bytes()
    hostile = ingest_source(type(sources[0])(str(up / names[0]), names[2]), settings)
    assert storage.key_of(hostile.raw_uri).startswith("raw/") and ".." not in hostile.raw_uri


def test_bad_files_are_recorded_with_reasons(settings, speech_dir, tmp_path):
    bad = synthetic.bad_files(tmp_path / "bad", speech_dir / "main.wav")
    catalog = Catalog(settings)
    ds = catalog.create_dataset("d")
    by_name = {}
    for s in list_sources([str(bad[k]) for k in ("empty", "text_as_wav", "aiff")], settings):
        by_name[s.display_name] = register(catalog, ds.id, ingest_source(s, settings))
    assert by_name["empty.wav"].reason == "empty file (0 bytes)"
    assert by_name["notes.wav"].reason.startswith("not a readable audio file")
    assert by_name["speech.aiff"].reason.startswith("unsupported audio format")
    assert all(r.status == "rejected" and not processable(r) for r in by_name.values())


def test_unreadable_sources_fail_clearly(settings):
    with pytest.raises(InvalidSource, match="no such file or directory"):
        list_sources(["/nonexistent/x.wav"], settings)
    with pytest.raises(InvalidSource, match="unsupported URI scheme"):
        list_sources(["ftp://host/x.wav"], settings)


def test_version_depends_on_files_and_settings():
    a = dataset_version(["b", "a"], {"x": 1})
    assert a == dataset_version(["a", "b"], {"x": 1})
    assert a != dataset_version(["a"], {"x": 1}) and a != dataset_version(["a", "b"], {"x": 2})
