"""A preparation that dies part-way resumes: what finished before is read back, not computed again.

The crash is simulated inside the flow (one file's transcription fails as an outage would, which
ends the run without rejecting anything); `bench/prepare_seed_scale.py` kills a real preparing
process with SIGKILL at scale and checks the same."""

from __future__ import annotations

import collections

import pytest

from provoice import synthetic
from provoice.catalog import Catalog
from provoice.errors import InfrastructureError

pytestmark = pytest.mark.integration


def test_a_crashed_preparation_resumes_without_redoing_finished_work(prefect_harness, settings, tmp_path, monkeypatch):
    import provoice.dataset.steps as steps
    import tasks.transcribe
    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset

    folder = tmp_path / "up"
    folder.mkdir()
    for i in range(2):
        synthetic.speech_file(folder / f"take{i}.wav", synthetic.SENTENCES[3 * i : 3 * i + 2])
    catalog = Catalog(settings)
    ds = catalog.create_dataset("resume")
    ingest_files(ds.id, [str(folder)])
    names = {f.sha256: f.original_name for f in catalog.files(ds.id)}

    real_transcribe = tasks.transcribe.transcribe_step

    def outage_for_take1(storage, settings, seg):
        if names[seg["sha256"]] == "take1.wav":
            raise InfrastructureError("the machine went away")
        return real_transcribe(storage, settings, seg)

    monkeypatch.setattr(tasks.transcribe, "transcribe_step", outage_for_take1)
    with pytest.raises(InfrastructureError):
        prepare_dataset(ds.id)
    monkeypatch.setattr(tasks.transcribe, "transcribe_step", real_transcribe)

    computed: collections.Counter = collections.Counter()
    for name in ("convert", "segment", "transcribe_segments", "embed_many"):
        real = getattr(steps, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            computed[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(steps, name, spy)
    summary = prepare_dataset(ds.id)
    assert [f.status for f in summary.files] == ["accepted"] * 2
    # Both were converted and segmented before the crash, take0 transcribed too: none of it again.
    assert computed == {"transcribe_segments": 1, "embed_many": 2}, computed
