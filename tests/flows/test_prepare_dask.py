"""The prepare flow on a local Dask cluster gives exactly what the thread pool gives.

Each runner prepares the same three files in a fresh ProVoice home, so no step is served from
another run's cache: two speech files and a silent one, which a worker rejects with a typed error
that has to come back across the process boundary.
"""

import hashlib
import json
import os
import time
import wave

import numpy as np
import pytest

from provoice import synthetic
from provoice.catalog import Catalog
from provoice.errors import ConfigurationError
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.views import stored


def test_settings_choose_the_task_runner(tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.prepare import local_cluster, prepare_flow_for, prepare_task_runner

    base = dict(home=tmp_path, asr_model="tiny")
    threads = prepare_task_runner(Settings(**base, task_workers=3))
    assert isinstance(threads, ThreadPoolTaskRunner) and threads._max_workers == 3
    local = prepare_task_runner(Settings(**base, dask_local_workers=2))
    assert isinstance(local, DaskTaskRunner) and local.cluster_class is local_cluster
    assert local.cluster_kwargs["n_workers"] == 2 and local.cluster_kwargs["processes"] is True
    with temporary_settings(updates={PREFECT_API_URL: "http://prefect.internal:4200/api"}):
        remote = prepare_task_runner(Settings(**base, dask_address="tcp://dask.internal:8786"))
        assert remote.address == "tcp://dask.internal:8786"
        flow = prepare_flow_for(Settings(**base, dask_address="tcp://dask.internal:8786"))
        assert flow.name == "prepare-files" and flow.task_runner.address == "tcp://dask.internal:8786"
    with (
        temporary_settings(restore_defaults={PREFECT_API_URL}),
        pytest.raises(ConfigurationError, match="PREFECT_API_URL"),
    ):
        prepare_task_runner(Settings(**base, dask_address="tcp://dask.internal:8786"))


def _worker_view() -> dict:
    import psutil

    return {
        "api": os.environ.get("PREFECT_API_URL"),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "children": [" ".join(c.cmdline()[:3]) for c in psutil.Process().children(recursive=True)],
    }


@pytest.mark.integration
def test_local_workers_report_to_the_flows_own_api(prefect_harness, tmp_path):
    from prefect import flow, task
    from prefect.context import FlowRunContext

    from flows.prepare import prepare_task_runner

    probe = task(_worker_view, name="worker-view")

    @flow
    def look() -> tuple[str, dict]:
        return str(FlowRunContext.get().client.api_url).rstrip("/"), probe.submit().result()

    environ = dict(os.environ)
    runner = prepare_task_runner(Settings(home=tmp_path, asr_model="tiny", dask_local_workers=1))
    api, seen = look.with_options(task_runner=runner)()
    assert seen["api"] == api  # the worker's whole process, not only its task, talks to the flow's API
    assert seen["children"] == []  # and it started no Prefect server of its own
    assert seen["omp"] == environ.get("OMP_NUM_THREADS")  # Dask's one-thread caps are lifted
    assert dict(os.environ) == environ  # and did not leak into this process


def _upload(folder, speech_dir):
    folder.mkdir()
    (folder / "main.wav").write_bytes((speech_dir / "main.wav").read_bytes())
    synthetic.speak(synthetic.SENTENCES[5], folder / "beach.wav")
    with wave.open(str(folder / "silence.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(16000 * 3, "<i2").tobytes())
    return folder


def _prepare(home, upload, monkeypatch, **env):
    """Ingest and prepare in a fresh home; everything that names a home or an id is made neutral."""
    from flows.ingest import ingest_files
    from flows.prepare import prepare_flow_for

    monkeypatch.setenv("PROVOICE_HOME", str(home))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    catalog = Catalog(settings)
    ds = catalog.create_dataset("voice")
    ingest_files(ds.id, [str(upload)])
    state = prepare_flow_for(settings)(ds.id, return_state=True)
    summary = stored(state.result())
    storage = Storage.from_settings(settings)
    names = {f.id: f.original_name for f in catalog.files(ds.id)}

    def neutral(value):
        text = json.dumps(value, sort_keys=True)
        for file_id, name in names.items():
            text = text.replace(file_id, name)
        return json.loads(text.replace(ds.id, "<dataset>").replace(settings.storage_uri, "<store>"))

    rows = [
        json.loads(line) for line in storage.read_bytes(storage.key_of(summary["manifest_uri"])).decode().splitlines()
    ]
    audio = {r["file_id"]: hashlib.sha256(storage.read_bytes(storage.key_of(r["audio_uri"]))).hexdigest() for r in rows}
    report = storage.read_json(storage.key_of(summary["report_uri"]))
    report.pop("created_at")
    run = catalog.latest_run(ds.id)
    return {
        "summary": neutral(summary),
        "rows": neutral(rows),
        "audio": neutral(audio),
        "report": neutral(report),
        "progress": (run.progress_done, run.progress_total),
        "flow_run_id": state.state_details.flow_run_id,
    }


def _task_runs(flow_run_id, expected: int) -> list[tuple[str, str]]:
    """(name, final state) of a flow run's per-file task runs as the Prefect API recorded them.

    Task runs reach the API as events that the server writes in batches, so this waits (a minute
    at most) until `expected` of them have a final state.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
            final = sorted(
                (r.name, r.state_type.value)
                for r in runs
                if " " in r.name and r.state is not None and r.state.is_final()
            )
            if len(final) >= expected or time.monotonic() > deadline:
                return final
            time.sleep(0.5)


@pytest.mark.integration
def test_dask_workers_prepare_exactly_what_threads_do(prefect_harness, speech_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PROVOICE_MIN_SPEECH_SECONDS", "30")
    upload = _upload(tmp_path / "upload", speech_dir)
    threads = _prepare(tmp_path / "threads", upload, monkeypatch)

    def boom(*args, **kwargs):
        raise AssertionError("per-file work ran in the flow's own process")

    # The workers are separate processes: this patch reaches only the flow's process.
    monkeypatch.setattr("provoice.dataset.steps.convert", boom)
    environ = dict(os.environ)
    dask = _prepare(tmp_path / "dask", upload, monkeypatch, PROVOICE_DASK_LOCAL_WORKERS="2")
    environ["PROVOICE_DASK_LOCAL_WORKERS"] = "2"
    environ["PROVOICE_HOME"] = str(tmp_path / "dask")
    assert dict(os.environ) == environ  # Dask's per-worker thread caps did not leak into this process

    files = {f["name"]: f for f in threads["summary"]["files"]}
    assert files["main.wav"]["status"] == files["beach.wav"]["status"] == "accepted"
    assert files["silence.wav"]["status"] == "rejected" and "silent" in files["silence.wav"]["reason"]
    assert len(threads["rows"]) >= 4
    assert dask["rows"] == threads["rows"]
    assert dask["audio"] == threads["audio"]
    assert dask["report"] == threads["report"]
    assert dask["summary"] == threads["summary"]
    assert dask["progress"] == threads["progress"] == (4 * 3 + 1, 4 * 3 + 1)  # a dropped file counts as done
    # The workers reported their task runs to the flow's own Prefect API (the harness server):
    # convert for all three files, the three later steps for the two speech files.
    recorded = _task_runs(dask["flow_run_id"], expected=3 + 3 * 2)
    assert recorded == _task_runs(threads["flow_run_id"], expected=3 + 3 * 2)
    assert len(recorded) == 9 and ("convert silence.wav", "FAILED") in recorded
