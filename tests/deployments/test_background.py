"""The home's background processes cost little when idle: they run at a lower priority, the local
Prefect server stops itself once nothing uses it (an active flow run keeps it), the flow daemon exits
when idle, and `provoice server status` shows what each holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from deployments.background import sample_usage
from deployments.flow_daemon import FlowDaemon
from deployments.local_server import LocalServer, alive
from interfaces.cli import app
from provoice.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _until(check, timeout_s: float, step_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError(f"not within {timeout_s} s")


def _status() -> dict:
    r = CliRunner().invoke(app, ["server", "status", "--json"])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def _nices(pid: int) -> set[int]:
    return {os.getpriority(os.PRIO_PROCESS, t.id) for t in psutil.Process(pid).threads()}


def _api(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def test_lower_priority_reaches_every_thread_and_spares_the_caller_s_session():
    autogroup = Path("/proc/self/autogroup")
    probe = (
        "import os, threading, time\nfrom pathlib import Path\nfrom deployments.background import lower_priority\n"
        "t = threading.Thread(target=time.sleep, args=(2,)); t.start()\nlower_priority(7)\n"
        "print(sorted({os.getpriority(os.PRIO_PROCESS, int(x)) for x in os.listdir('/proc/self/task')}))\n"
        f"print(Path({str(autogroup)!r}).read_text() if Path({str(autogroup)!r}).exists() else '')\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    threads, _, autogroup_line = r.stdout.partition("\n")
    assert threads == "[7]"  # the thread started before too
    assert autogroup_line.strip() == (autogroup.read_text().strip() if autogroup.exists() else "")


def test_usage_is_memory_cpu_priority_and_age_of_the_process_tree():
    usage = sample_usage([os.getpid()], sample_s=0.1)[os.getpid()]
    assert usage.rss_bytes >= psutil.Process().memory_info().rss // 2 and usage.cpu_percent >= 0
    assert usage.nice == os.getpriority(os.PRIO_PROCESS, 0) and usage.uptime_s > 0
    assert sample_usage([2**22 + 1]) == {}  # no such process


@pytest.mark.integration
def test_the_local_server_gives_way_and_stops_itself_once_unused_but_not_while_a_run_is_active(settings, monkeypatch):
    monkeypatch.setenv("PROVOICE_LOCAL_SERVER_IDLE_S", "5")
    monkeypatch.setenv("PROVOICE_BACKGROUND_NICE", "10")
    server = LocalServer(Settings(), say=lambda _: None)
    rec = server.ensure()
    environ = psutil.Process(rec.pid).environ()
    assert environ["PREFECT_SERVER_SERVICES_FOREMAN_ENABLED"] == "false"
    assert "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED" not in environ  # scheduling stays on
    _until(lambda: _nices(rec.pid) == {10}, 10)

    assert server.ensure() == rec  # used again: its idle time starts over
    flow = _api(f"{rec.api_url}/flows/", {"name": "held"})
    run = _api(f"{rec.api_url}/flow_runs/", {"flow_id": flow["id"], "state": {"type": "RUNNING"}})
    shown = _status()
    assert shown["running"] and shown["server"]["pid"] == rec.pid and shown["server"]["nice"] == 10
    assert shown["server"]["rss_bytes"] > 50 << 20 and shown["server"]["cpu_percent"] >= 0
    assert 0 <= shown["server"]["stops_in_s"] <= 5 and shown["server"]["uptime_s"] > 0
    assert shown["flow_daemon"] == {**shown["flow_daemon"], "running": False, "pid": None}

    time.sleep(8)  # longer than its idle time, but a flow run is running in it
    assert alive(rec.pid) and server.record() == rec
    _api(f"{rec.api_url}/flow_runs/{run['id']}/set_state", {"state": {"type": "COMPLETED"}, "force": True})
    _until(lambda: not alive(rec.pid), 30)
    assert server.record() is None and "stopping" in (Path(rec.prefect_home) / "server.log").read_text()
    with server._locked().acquire(timeout=5):  # the lock it held while stopping went with it
        pass


@pytest.mark.integration
def test_the_flow_daemon_gives_way_tells_what_it_holds_and_exits_when_idle(settings, monkeypatch):
    monkeypatch.setenv("PROVOICE_FLOW_DAEMON_IDLE_S", "4")
    monkeypatch.setenv("PROVOICE_BACKGROUND_NICE", "10")
    daemon = FlowDaemon(Settings())
    daemon.start_in_background()
    rec = _until(daemon.running, 120)
    assert _nices(rec.pid) == {10}
    state = daemon.state(rec)
    assert state is not None and state.busy == 0 and state.models == [] and state.idle_exit_s == 4

    shown = _status()["flow_daemon"]
    assert shown["running"] and shown["pid"] == rec.pid and shown["rss_bytes"] > 20 << 20
    assert shown["models_loaded"] == [] and shown["releases_models_in_s"] is None
    assert 0 <= shown["idle_s"] <= 4 and 0 <= shown["stops_in_s"] <= 4
    _until(lambda: not alive(rec.pid), 30)
    assert daemon.record() is None


def test_status_says_in_one_line_what_a_process_holds_and_when_it_stops():
    from interfaces.cli.server import _holds
    from provoice.views import BackgroundProcessView

    daemon = BackgroundProcessView(
        running=True,
        pid=42,
        rss_bytes=654 << 20,
        cpu_percent=0.5,
        nice=10,
        uptime_s=4000,
        idle_s=18,
        stops_in_s=1782,
        models_loaded=["provoice.asr.whisper.load_model", "provoice.quality.speaker.load_encoder"],
        releases_models_in_s=42,
    )
    assert _holds(daemon) == (
        "pid 42; 654 MB, 0.5 % CPU, nice 10, up 1 h 6 min; idle 18 s; stops in 29 min 42 s unless used; "
        "models whisper, speaker; released in 42 s"
    )
    assert _holds(BackgroundProcessView(running=False)) == ""
