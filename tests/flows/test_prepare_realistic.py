"""The prepare flow on uploads that sound like real ones (provoice.recordings): every bad take rejected
or warned with its own reason, nobody else's words in training, the originals untouched."""

import hashlib
import re

import pytest

from provoice.catalog import Catalog
from provoice.dataset.outputs import read_manifest, reason_category
from provoice.quality import checks
from provoice.recordings import CorpusFile, Expect, realistic_corpus
from provoice.storage import Storage

pytestmark = pytest.mark.integration

#: Causes that say a recording is bad; a clean take must lose no speech to any of them.
RECORDING_FAULTS = {
    checks.TELEPHONE_BAND,
    checks.CLIPPING,
    checks.CRUSHED,
    checks.HEAVY_REVERB,
    checks.MUSIC,
    checks.NOISY,
    checks.DIFFERENT_SPEAKER,
}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_realistic_uploads_are_judged_cause_by_cause(prefect_harness, settings, tmp_path):
    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset

    corpus = realistic_corpus(tmp_path / "uploads")
    before = {c.path.name: sha256(c.path) for c in corpus}
    ds = Catalog(settings).create_dataset("realistic")
    ingest_files(ds.id, [str(tmp_path / "uploads")])
    summary = prepare_dataset(ds.id)

    storage = Storage.from_settings(settings)
    report = storage.read_json(storage.key_of(summary.report_uri))
    files = {f["name"]: f for f in report["files"]}
    names = {f["id"]: f["name"] for f in report["files"]}
    rows = read_manifest(storage, summary.manifest_uri)
    decisions = read_manifest(storage, report["segments_uri"])
    for c in corpus:
        script = words(" ".join(c.owner_script))
        mine = [d for d in decisions if names[d["file_id"]] == c.path.name]
        _check_file(c, files[c.path.name], [d for d in mine if owner_speaks(d, script)])
        # Every kept line is the owner reading the script: no music heard as words, no host.
        assert all(owner_speaks(d, script) for d in mine if not d["reason"]), (c.case, mine)

    owners = words(" ".join(line for c in corpus for line in c.owner_script))
    others = words(" ".join(line for c in corpus for line in c.other_script)) - owners
    assert others, "the interview's host must say words of their own"
    trained = words(" ".join(r["text"] for r in rows))
    assert not others & trained
    assert {c.path.name: sha256(c.path) for c in corpus} == before


def owner_speaks(decision: dict, script: set[str]) -> bool:
    said = words(decision["text"])
    return bool(said) and len(said & script) >= 0.5 * len(said)


def _check_file(c: CorpusFile, f: dict, owner_segments: list[dict]) -> None:
    """The file's decision and what it says each cause cost; `owner_segments` are its segments whose
    transcript is the owner's script (music or another voice may fill the others)."""
    excluded, warned = set(f["excluded_s"]), set(f["warned_s"])
    context = (c.case, f["status"], f["reason"], f["warnings"])
    if c.expect is Expect.REJECTED:
        assert f["status"] == "rejected" and reason_category(f["reason"]) == c.reason, context
        assert f"{c.reason}: " in " ".join(w for w in f["warnings"] if w.endswith(" excluded")), context
        return
    assert f["status"] == "accepted", context
    if c.expect is Expect.ACCEPTED:
        faults = [d for d in owner_segments if d["reason"] and reason_category(d["reason"]) in RECORDING_FAULTS]
        assert not faults, context
        assert warned <= {checks.LIGHT_REVERB}, context
    elif c.expect is Expect.WARNED:
        assert c.reason in warned and not excluded & (RECORDING_FAULTS - {c.reason}), context
        assert any(w.startswith(f"{c.reason}: ") and w.endswith("kept with a warning") for w in f["warnings"])
    else:  # PARTLY: the owner kept, the other voice excluded for its reason
        assert c.reason in excluded, context
