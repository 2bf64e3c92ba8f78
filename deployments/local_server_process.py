"""The process of a home's local Prefect server: Prefect's own `prefect server start`, run here, given
a lower CPU priority as soon as it answers, with a thread that stops it when the home has not used it
for `--idle-s`.

Used means: a command asked for it (`LocalServer.ensure` marks the record), a client holds a
connection to it (a running `provoice serve`, a command in flight, the flow daemon), or one of its
flow runs is pending, running or cancelling. The thread marks each such sight on the record too, so
the record's time is the last use (`provoice server status` shows it). To stop, it removes the
record and sends this process SIGTERM while holding the home's lock, which the kernel frees when
the process is gone: a command asking meanwhile waits, then starts a new server.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from deployments.background import lower_priority
from deployments.local_server import START_TIMEOUT_S, LocalServer
from provoice.settings import Settings

#: Flow-run states that keep the server in use (a scheduled run waits for a runner that is a client).
ACTIVE_STATES = ("PENDING", "RUNNING", "CANCELLING")
#: Seconds a SIGTERM'ed server may take to shut down before the thread ends the process.
SHUTDOWN_GRACE_S = 30.0


def clients(port: int) -> int:
    """Connections to `port` from other processes (this process's own requests left out)."""
    conns = psutil.Process().net_connections(kind="tcp")
    own = {c.laddr.port for c in conns if c.raddr and c.raddr.port == port}
    return sum(
        1
        for c in conns
        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port and c.raddr and c.raddr.port not in own
    )


def active_runs(api_url: str) -> int:
    """Flow runs of the server in ACTIVE_STATES."""
    body = json.dumps({"flow_runs": {"state": {"type": {"any_": list(ACTIVE_STATES)}}}}).encode()
    request = urllib.request.Request(
        f"{api_url}/flow_runs/count", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return int(json.loads(r.read()))


def in_use(port: int, api_url: str) -> bool:
    """Whether anything uses the server now; an unanswered question counts as yes."""
    try:
        return clients(port) > 0 or active_runs(api_url) > 0
    except (OSError, ValueError, psutil.Error):
        return True


def watch(server: LocalServer, port: int, idle_s: float, nice: int) -> None:
    """Once the server is recorded (it answers; a command waited for it at full priority), lower its
    priority; then mark the record used while the server is in use, and stop the server once it has
    been idle for `idle_s`, or when no record names it (its starter died before writing one)."""
    pid, started, recorded = os.getpid(), time.monotonic(), False
    check_s = min(5.0, max(0.2, idle_s / 4))
    while True:
        time.sleep(check_s)
        rec = server.record()
        if rec is None or rec.pid != pid:
            if recorded or time.monotonic() - started > START_TIMEOUT_S:
                break
            continue
        if not recorded:
            lower_priority(nice)
            recorded = True
        if in_use(port, rec.api_url):
            server.mark_used()
        elif server.forget_if_idle(pid, idle_s) is not None:
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} unused for {idle_s:.0f} s: stopping", flush=True)
            break
    os.kill(pid, signal.SIGTERM)
    time.sleep(SHUTDOWN_GRACE_S)
    os._exit(0)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle-s", type=float, required=True)
    parser.add_argument("--nice", type=int, default=0)
    args = parser.parse_args(argv)
    server = LocalServer(Settings(home=args.home), say=lambda _: None)
    watcher = threading.Thread(target=watch, args=(server, args.port, args.idle_s, args.nice), name="idle-stop")
    watcher.daemon = True
    watcher.start()
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(args.port)]
    app()


if __name__ == "__main__":
    main(sys.argv[1:])
