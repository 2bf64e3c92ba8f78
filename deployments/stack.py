"""`provoice serve`: the HTTP API and every deployment, against PREFECT_API_URL or a local Prefect
server started here on 127.0.0.1. Each part is a child process in its own process group, so
stopping (Ctrl-C, SIGTERM) stops all of them, the Prefect server last, and nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from provoice.catalog import migrate_catalog
from provoice.errors import ProVoiceError
from provoice.settings import Settings

STOP_GRACE_S = 15.0


class StackError(ProVoiceError):
    """A part of the stack could not start."""


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s) as r:
            return r.status == 200
    except OSError:
        return False


@dataclass
class Stack:
    """Children started in order and stopped in reverse."""

    say: Callable[[str], None] = print
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
        """Start a child in its own process group; its output goes to `log` when given."""
        if log is None:
            proc = subprocess.Popen(argv, env=env, start_new_session=True)
        else:
            with log.open("ab") as out:
                proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
        self.children.append((name, proc))
        self.say(f"started {name} (pid {proc.pid})")
        return proc

    def start_prefect_server(self, port: int, env: dict[str, str], timeout_s: float = 120.0, *,
                             ui: bool = True, log: Path | None = None) -> str:
        """`prefect server start` on 127.0.0.1:`port`; returns its API URL once it answers /health."""
        if not port_free("127.0.0.1", port):
            raise StackError(f"port {port} on 127.0.0.1 is in use: pass --prefect-port, or set "
                             "PREFECT_API_URL to use the server that is running there")
        argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        proc = self.start("Prefect server", argv + ([] if ui else ["--no-ui"]), env, log)
        api_url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + timeout_s
        while not healthy(api_url):
            if proc.poll() is not None:
                raise StackError(f"the Prefect server exited with code {proc.returncode} while starting")
            if time.monotonic() > deadline:
                raise StackError(f"the Prefect server did not answer on {api_url} within {timeout_s:.0f} s")
            time.sleep(0.5)
        return api_url

    def wait(self) -> int:
        """Block until a child exits (an error: the stack is incomplete) or a stop signal arrives."""
        stop = {"signal": None}

        def on_signal(signum, _frame):
            stop["signal"] = signum

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while stop["signal"] is None:
                for name, proc in self.children:
                    if proc.poll() is not None:
                        self.say(f"{name} exited with code {proc.returncode}; stopping the rest")
                        return proc.returncode or 1
                time.sleep(0.5)
            return 0
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    def stop(self) -> None:
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                _signal_group(proc, signal.SIGINT)
                try:
                    proc.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()
            _signal_group(proc, signal.SIGKILL)  # grandchildren left in its group, if any
            self.say(f"stopped {name}")
        self.children.clear()


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def run_stack(api_host: str, api_port: int | None, prefect_port: int, say: Callable[[str], None] = print) -> int:
    """Migrate the catalog, start everything, wait for Ctrl-C or a failed part, stop everything; the
    exit code."""
    migrate_catalog(Settings())
    env = dict(os.environ)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    stack = Stack(say=say)
    try:
        api_url = env.get("PREFECT_API_URL")
        if api_url:
            if not healthy(api_url, timeout_s=10.0):
                raise StackError(f"PREFECT_API_URL={api_url} does not answer /health")
            say(f"using the Prefect server at {api_url}")
        else:
            api_url = stack.start_prefect_server(prefect_port, env)
            env["PREFECT_API_URL"] = api_url
            say(f"Prefect UI: {api_url.removesuffix('/api')}")
        stack.start("deployments", [sys.executable, "-m", "deployments.serve"], env)
        if api_port is not None:
            if not port_free(api_host, api_port):
                raise StackError(f"port {api_port} on {api_host} is in use: pass --api-port")
            stack.start("HTTP API", [sys.executable, "-m", "interfaces.cli", "api", "--host", api_host,
                                     "--port", str(api_port)], env)
            say(f"ProVoice API: http://{api_host}:{api_port}/docs")
        return stack.wait()
    finally:
        stack.stop()
