"""`provoice serve`: the HTTP API and every deployment, against PREFECT_API_URL or the home's local
Prefect server (`deployments.local_server`, shared with every other command and left running for
them; `provoice server stop` stops it).

Each part is a child process in its own process group. Stopping (Ctrl-C, SIGTERM) stops all of
them; a watchdog (`deployments.watchdog`) stops them too when this process dies any other way,
SIGKILL included. A stack whose `provoice serve` died is found from its record
(`PROVOICE_HOME/serve.json`) and replaced at the next start instead of failing on busy ports.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deployments.local_server import LocalServer, alive, healthy, kill_group
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


@dataclass
class Stack:
    """Children started in order and stopped in reverse; with `watched`, a watchdog stops them if
    this process dies first."""

    say: Callable[[str], None] = print
    watched: bool = False
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    watchdog: subprocess.Popen | None = None

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
        """Start a child in its own process group; its output goes to `log` (appended) if given."""
        self._ensure_watchdog(env)
        if log is None:
            proc = subprocess.Popen(argv, env=env, start_new_session=True)
        else:
            with open(log, "ab") as out:
                proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
        self.watch(name, proc)
        self.say(f"started {name} (pid {proc.pid})")
        return proc

    def _ensure_watchdog(self, env: dict[str, str]) -> None:
        if self.watched and self.watchdog is None:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-m", "deployments.watchdog"], stdin=subprocess.PIPE, start_new_session=True, env=env
            )

    def watch(self, name: str, proc: subprocess.Popen) -> None:
        """Stop `proc`, started elsewhere in a process group of its own, with the stack's children."""
        self._ensure_watchdog(dict(os.environ))
        self.children.append((name, proc))
        if self.watchdog is not None:
            self.watchdog.stdin.write(f"{proc.pid}\n".encode())
            self.watchdog.stdin.flush()

    def forget(self, proc: subprocess.Popen) -> None:
        """Drop a child that has exited (before starting its replacement)."""
        self.children = [(n, p) for n, p in self.children if p is not proc]

    def wait(self) -> int:
        """Block until a child exits (an error: the stack is incomplete) or a stop signal arrives."""

        def check() -> int | None:
            for name, proc in self.children:
                if proc.poll() is not None:
                    self.say(f"{name} exited with code {proc.returncode}; stopping the rest")
                    return proc.returncode or 1
            return None

        return until_stopped(check, every_s=0.5)

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
        if self.watchdog is not None:
            self.watchdog.stdin.close()
            self.watchdog.wait(30)
            self.watchdog = None


def until_stopped(check: Callable[[], int | None], every_s: float) -> int:
    """Run `check` every `every_s` until it returns an exit code, or 0 once SIGINT or SIGTERM arrives
    (the previous handlers are put back)."""
    stop: dict[str, int | None] = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while stop["signal"] is None:
            code = check()
            if code is not None:
                return code
            time.sleep(every_s)
        return 0
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


STACK_RECORD = "serve.json"


def replace_stale_stack(settings: Settings, say: Callable[[str], None]) -> None:
    """Refuse to start beside a running `provoice serve` of this home; stop what a dead one left."""
    path = settings.home / STACK_RECORD
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if alive(record.get("pid", 0)) and record.get("pid") != os.getpid():
        raise StackError(f"provoice serve is already running for {settings.home} (pid {record['pid']}); stop it first")
    for pgid in record.get("groups", []):
        if alive(pgid):
            say(f"stopping process group {pgid} left by a provoice serve that died")
            kill_group(pgid)
    path.unlink(missing_ok=True)


def _write_record(settings: Settings, stack: Stack, api_port: int | None) -> None:
    path = settings.home / STACK_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"pid": os.getpid(), "api_port": api_port, "groups": [proc.pid for _, proc in stack.children]})
    )


def run_stack(settings: Settings, api_host: str, api_port: int | None, say: Callable[[str], None] = print) -> int:
    """Migrate the catalog, start everything, wait for Ctrl-C or a failed part, stop everything; the
    exit code."""
    migrate_catalog(settings)
    replace_stale_stack(settings, say)
    env = dict(os.environ)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    stack = Stack(say=say, watched=True)
    try:
        api_url = env.get("PREFECT_API_URL")
        if api_url:
            if not healthy(api_url, timeout_s=10.0):
                raise StackError(f"PREFECT_API_URL={api_url} does not answer /health")
            say(f"using the Prefect server at {api_url}")
        else:
            api_url = LocalServer(settings, say).ensure().api_url
            env["PREFECT_API_URL"] = api_url
            say(
                f"Prefect UI: {api_url.removesuffix('/api')} (the home's local server; `provoice server stop` stops it)"
            )
        stack.start("deployments", [sys.executable, "-m", "deployments.serve"], env)
        if api_port is not None:
            if not port_free(api_host, api_port):
                raise StackError(f"port {api_port} on {api_host} is in use: pass --api-port")
            stack.start(
                "HTTP API",
                [sys.executable, "-m", "interfaces.cli", "api", "--host", api_host, "--port", str(api_port)],
                env,
            )
        _write_record(settings, stack, api_port)
        return stack.wait()
    finally:
        stack.stop()
        (settings.home / STACK_RECORD).unlink(missing_ok=True)
