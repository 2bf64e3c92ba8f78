"""A preparation that dies part-way resumes: what finished before is read back, not computed again.

The crash is simulated inside the flow (one file's transcription fails as an outage would, which
ends the run without rejecting anything); `bench/prepare_seed_scale.py` kills a real preparing
process with SIGKILL at scale and checks the same. A real `provoice dataset prepare` killed with
SIGKILL leaves a run that its lapsed lease fails."""

from __future__ import annotations

import collections
import json
import os
import signal
import time
from pathlib import Path

import pytest

from provoice import synthetic
from provoice.catalog import Catalog
from provoice.errors import InfrastructureError
from tests.cli_process import provoice_process
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def _takes(catalog: Catalog, folder: Path, name: str, *, takes: int, sentences: int):
    """A dataset `name` of `takes` files `take<i>.wav`, each reading `sentences` of three sentences
    of its own, ingested with the ingest flow."""
    from flows.ingest import ingest_files

    folder.mkdir()
    for i in range(takes):
        synthetic.speech_file(folder / f"take{i}.wav", synthetic.SENTENCES[3 * i : 3 * i + sentences])
    ds = catalog.create_dataset(name)
    ingest_files(ds.id, [str(folder)])
    return ds


def test_a_crashed_preparation_resumes_without_redoing_finished_work(prefect_harness, settings, tmp_path, monkeypatch):
    import provoice.dataset.steps as steps
    import tasks.transcribe
    from flows.prepare import prepare_dataset

    catalog = Catalog(settings)
    ds = _takes(catalog, tmp_path / "up", "resume", takes=2, sentences=2)
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


def test_a_killed_preparing_process_is_failed_by_its_lapsed_lease_and_the_next_one_goes_on(
    prefect_harness, settings, tmp_path
):
    """`provoice dataset prepare` SIGKILLed mid-run: once its lease lapses the dataset is no longer
    "being prepared" (the Playground's Prepare button and deletion are free again), the run says it
    was interrupted, and the next preparation completes."""
    from prefect.settings import get_current_settings
    from typer.testing import CliRunner

    from flows.prepare import prepare_dataset
    from interfaces.cli import app
    from provoice.dataset.runs import INTERRUPTED

    catalog = Catalog(settings)
    ds = _takes(catalog, tmp_path / "up", "killed", takes=4, sentences=3)
    env = {
        **os.environ,
        "PREFECT_API_URL": get_current_settings().api.url,
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PROVOICE_FLOW_DAEMON": "false",
        "PROVOICE_PREPARE_LEASE_SECONDS": "2",
    }
    log = tmp_path / "prepare.log"
    proc = provoice_process(["dataset", "prepare", ds.id, "--json"], env, log)
    try:
        run = wait_for(
            "the preparation to make progress",
            lambda: (r := catalog.latest_run(ds.id, status="running")) and r.progress_done > 0 and r,
            180,
            0.1,
        )
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    runner = CliRunner()
    assert json.loads(runner.invoke(app, ["dataset", "show", ds.id, "--json"]).stdout)["preparing"] is not None
    time.sleep(2.5)  # the lease lapses: nothing renews it any more
    shown = json.loads(runner.invoke(app, ["dataset", "show", ds.id, "--json"]).stdout)
    assert shown["preparing"] is None, shown
    interrupted = catalog.get_run(run.id)
    assert interrupted.status == "failed" and interrupted.summary["message"] == INTERRUPTED

    summary = prepare_dataset(ds.id)
    assert [f.status for f in summary.files] == ["accepted"] * 4
    assert catalog.latest_run(ds.id).version == summary.version
