"""The home's local Prefect server: started once, shared, replaced when it died, stopped on request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deployments.local_server import LocalServer, alive, healthy

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ENSURE = (
    "import json\nfrom deployments.local_server import LocalServer\nfrom provoice.settings import Settings\n"
    "r = LocalServer(Settings()).ensure()\nprint(json.dumps({'pid': r.pid, 'api_url': r.api_url}))\n"
)


def _ensure_in(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", ENSURE], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_commands_share_one_server_a_dead_one_is_replaced_and_stop_stops_it(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    first, second = _ensure_in(env), _ensure_in(env)  # started at the same moment
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert all(p.returncode == 0 for p in (first, second)), outs
    records = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert records[0] == records[1]  # one server for both
    assert sum("starting the local Prefect server" in err for _, err in outs) == 1  # said once, on stderr
    server = LocalServer(settings, say=lambda _: None)
    running = server.running()
    assert running is not None and running.pid == records[0]["pid"] and healthy(running.api_url)

    os.killpg(running.pid, signal.SIGKILL)  # the server dies; its record stays behind
    assert server.running() is None and server.record() is not None
    third = _ensure_in(env)
    out, _err = third.communicate(timeout=300)
    replaced = json.loads(out.strip().splitlines()[-1])
    assert third.returncode == 0 and replaced["pid"] != running.pid and healthy(replaced["api_url"])

    r = subprocess.run(
        [sys.executable, "-m", "interfaces.cli", "server", "stop", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert server.record() is None and not alive(replaced["pid"]) and not healthy(replaced["api_url"])
