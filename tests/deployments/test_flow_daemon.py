"""The home's flow daemon, through the real `provoice` command: the first dataset command starts it
and runs its own flow, later ones are run by it; another environment or a killed daemon is
replaced; `server stop` stops it; its errors come back as the command's own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from deployments.flow_daemon import FlowDaemon, rebuilt_error
from deployments.local_server import alive
from provoice import synthetic
from provoice.errors import NotFound, ProVoiceError

ROOT = Path(__file__).resolve().parents[2]


def _provoice(env: dict, *args: str) -> dict:
    r = subprocess.run(
        [sys.executable, "-m", "interfaces.cli", *args, "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _daemon_up(daemon: FlowDaemon, other_than: int | None = None):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rec = daemon.running()
        if rec is not None and rec.pid != other_than:
            return rec
        time.sleep(0.2)
    raise AssertionError("the flow daemon did not start")


def _models_are_given_back_when_idle(daemon: FlowDaemon, rec, fresh_rss: int) -> None:
    """The prepare flow left Whisper and the speaker encoder in the daemon; idle, it becomes a fresh
    interpreter on the same pid, port and token, and holds what it held when it first started."""
    held = daemon.state(rec)
    assert held is not None and {"provoice.asr.whisper.load_model", "provoice.quality.speaker.load_encoder"} <= set(
        held.models
    )
    rss = psutil.Process(rec.pid).memory_info().rss
    deadline, state = time.monotonic() + 90, held
    while time.monotonic() < deadline:
        state = daemon.state(rec, timeout_s=20)  # a request during the renewal waits in the backlog
        if state is not None and not state.models:
            break
        time.sleep(0.5)
    renewed = psutil.Process(rec.pid).memory_info().rss
    print(f"flow daemon RSS: fresh {fresh_rss >> 20} MB, with models {rss >> 20} MB, renewed {renewed >> 20} MB")
    assert state is not None and state.models == [] and daemon.running() == rec
    assert renewed < fresh_rss + (40 << 20) and renewed < rss - (200 << 20), (fresh_rss, rss, renewed)


def _served(settings, dataset_id: str) -> bool:
    log = settings.home / "flow-daemon.log"
    return log.exists() and f'"dataset_id": "{dataset_id}"' in log.read_text()


@pytest.mark.integration
def test_dataset_commands_share_one_daemon_that_is_replaced_when_it_cannot_serve(settings, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")},
        "PROVOICE_FLOW_DAEMON": "true",
        "PROVOICE_FLOW_DAEMON_RELEASE_MODELS_S": "4",
    }
    wav = synthetic.speak("A short recording.", tmp_path / "one.wav")
    daemon = FlowDaemon(settings)

    first = _provoice(env, "dataset", "create", "first", "--from", str(wav))
    assert [f["status"] for f in first["files"]] == ["pending"] and not _served(settings, first["id"])
    rec = _daemon_up(daemon)
    fresh_rss = psutil.Process(rec.pid).memory_info().rss
    assert oct(daemon.record_path.stat().st_mode & 0o777) == "0o600"

    second = _provoice(env, "dataset", "create", "second", "--from", str(wav))
    assert _served(settings, second["id"]) and second["files"][0]["sha256"] == first["files"][0]["sha256"]
    summary = _provoice(env, "dataset", "prepare", second["id"])
    assert summary["files"][0]["status"] == "accepted" and _served(settings, second["id"])
    _models_are_given_back_when_idle(daemon, rec, fresh_rss)
    renewed = _provoice(env, "dataset", "create", "renewed", "--from", str(wav))
    assert _served(settings, renewed["id"]) and daemon.running() == rec

    changed = {**env, "PROVOICE_TASK_WORKERS": "3"}  # another environment: run here, replace the daemon
    third = _provoice(changed, "dataset", "create", "third", "--from", str(wav))
    assert not _served(settings, third["id"])
    rec = _daemon_up(daemon, other_than=rec.pid)
    fourth = _provoice(changed, "dataset", "create", "fourth", "--from", str(wav))
    assert _served(settings, fourth["id"])

    os.killpg(rec.pid, signal.SIGKILL)  # a dead daemon: run here, start another
    fifth = _provoice(changed, "dataset", "create", "fifth", "--from", str(wav))
    assert not _served(settings, fifth["id"])
    rec = _daemon_up(daemon, other_than=rec.pid)

    stopped = _provoice(changed, "server", "stop")
    assert stopped["flow_daemon_pid"] == rec.pid and not alive(rec.pid) and daemon.record() is None


def test_the_daemon_s_errors_are_rebuilt_as_the_command_s_own():
    error = rebuilt_error({"module": "provoice.errors", "error": "NotFound", "detail": "no dataset with id 'x'"})
    assert type(error) is NotFound and str(error) == "no dataset with id 'x'"
    outside = rebuilt_error({"module": "os", "error": "system", "detail": "no"})
    assert type(outside) is ProVoiceError
    crash = rebuilt_error({"error": "KeyError", "detail": "KeyError: 'x'"})
    assert type(crash) is ProVoiceError and "flow daemon failed" in str(crash)
