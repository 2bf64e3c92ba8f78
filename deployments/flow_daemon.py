"""The home's flow daemon: one long-lived process that runs the dataset flows (ingest, prepare)
that `provoice dataset create|add|prepare` ask for, so a command pays neither Prefect's import and
teardown (about 1.5 s together on 2 cores) nor Whisper's and the speaker encoder's loading again.

It is started in the background by the first such command (which runs its flow itself, as before),
listens on 127.0.0.1 on a free port with a random token, both recorded in
`PROVOICE_HOME/flow-daemon.json` (mode 0600), and runs each request on a thread of its own against
the home's local Prefect server (or `PREFECT_API_URL`), so the runs are the same flow runs in the
Prefect UI. A command uses it only when the daemon was started with the same ProVoice, Prefect and
AWS environment (else the daemon is replaced and the command runs its flow itself). It runs at a
lower CPU priority (`deployments.background`), gives its models back after
`PROVOICE_FLOW_DAEMON_RELEASE_MODELS_S` (a minute) without requests by replacing itself with a fresh
interpreter on the same pid, port and token (the next request loads them again), exits after
`PROVOICE_FLOW_DAEMON_IDLE_S` (30 minutes) without requests, and answers `provoice server status`
with what it holds; `provoice server stop` stops it.
`PROVOICE_FLOW_DAEMON=false` turns it off.

A ProVoice error raised by the flow comes back as the same error (type and message). A daemon
that is gone before a request is sent is replaced and the command runs the flow itself; one that
dies during a request is reported, not retried, since the flow may have done part of its work.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import secrets
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from deployments.background import Usage, lower_priority
from deployments.local_server import HomeProcess, alive
from provoice.errors import ProVoiceError, TransientError
from provoice.loading import loaded_models
from provoice.settings import Settings
from provoice.views import BackgroundProcessView

RECORD = "flow-daemon.json"
LOCK = "flow-daemon.lock"
LOG = "flow-daemon.log"
ENV_PREFIXES = ("PROVOICE_", "PREFECT_", "AWS_")
ENV_NAMES = ("PATH", "HOME")


def env_fingerprint(env: dict[str, str] | None = None) -> str:
    """What must be equal for a request to run in the daemon as it would in the command itself."""
    env = os.environ if env is None else env
    seen = sorted((k, v) for k, v in env.items() if k.startswith(ENV_PREFIXES) or k in ENV_NAMES)
    return hashlib.sha256(json.dumps([sys.executable, seen]).encode()).hexdigest()


@dataclass(frozen=True)
class DaemonRecord:
    pid: int
    port: int
    token: str
    env: str
    started_at: float


@dataclass(frozen=True)
class DaemonState:
    """What a daemon tells `provoice server status`: its requests in flight, idle time, models, timers."""

    busy: int
    idle_s: float
    models: list[str]
    idle_exit_s: float
    release_models_s: float


class FlowDaemonLost(TransientError):
    """The daemon went away while it ran a request; the flow may have done part of its work."""


class FlowDaemon(HomeProcess):
    """The daemon of one ProVoice home, as its client sees it."""

    record_file, lock_file, record_type = RECORD, LOCK, DaemonRecord

    def __init__(self, settings: Settings):
        super().__init__(settings.home)
        self.settings = settings

    def running(self) -> DaemonRecord | None:
        rec = self.record()
        return rec if rec is not None and alive(rec.pid) else None

    def client(self) -> DaemonRecord | None:
        """The daemon to send this command's flow to, or None: then the command runs the flow itself,
        and a daemon is started in the background for the next command (replacing one started with
        another environment)."""
        if not self.settings.flow_daemon:
            return None
        rec = self.running()
        if rec is not None and rec.env == env_fingerprint():
            return rec
        self.start_in_background(replace=rec)
        return None

    def start_in_background(self, replace: DaemonRecord | None = None) -> None:
        if replace is not None:
            self.stop(grace_s=5.0)
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / LOG).open("ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "deployments.flow_daemon"],
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def call(self, rec: DaemonRecord, flow: str, args: dict[str, Any]) -> Any:
        """The flow's result as JSON, run by the daemon; its ProVoice error raised here."""
        try:
            conn = socket.create_connection(("127.0.0.1", rec.port), timeout=5)
        except OSError as exc:
            raise FlowDaemonUnreachable(str(exc)) from exc
        with conn:
            conn.settimeout(None)
            conn.sendall(json.dumps({"token": rec.token, "flow": flow, "args": args}).encode() + b"\n")
            line = conn.makefile("rb").readline()
        if not line:
            raise FlowDaemonLost(
                f"the flow daemon (pid {rec.pid}) stopped while running {flow}; the run may "
                "have done part of its work: run the command again"
            )
        reply = json.loads(line)
        if reply["ok"]:
            return reply["result"]
        raise rebuilt_error(reply)

    def state(self, rec: DaemonRecord, timeout_s: float = 5.0) -> DaemonState | None:
        """The daemon's own account of itself (not a use: its idle time goes on); None if it does not answer."""
        try:
            with socket.create_connection(("127.0.0.1", rec.port), timeout=timeout_s) as conn:
                conn.sendall(json.dumps({"token": rec.token, "status": True}).encode() + b"\n")
                reply = json.loads(conn.makefile("rb").readline() or b"{}")
            return DaemonState(**reply["result"]) if reply.get("ok") else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def view(self, rec: DaemonRecord | None, usage: dict[int, Usage]) -> BackgroundProcessView:
        """What `provoice server status` shows of the running daemon `rec`."""
        if rec is None:
            return BackgroundProcessView(running=False)
        state, used = self.state(rec), usage.get(rec.pid)
        fields: dict[str, Any] = asdict(used) if used else {}
        if state is not None:
            fields.update(
                idle_s=round(state.idle_s, 1),
                stops_in_s=round(max(0.0, state.idle_exit_s - state.idle_s), 1),
                models_loaded=state.models,
                releases_models_in_s=round(max(0.0, state.release_models_s - state.idle_s), 1)
                if state.models
                else None,
            )
        return BackgroundProcessView(running=True, pid=rec.pid, **fields)


class FlowDaemonUnreachable(Exception):
    """No connection: nothing was sent, so the command can run the flow itself."""


def rebuilt_error(reply: dict) -> ProVoiceError:
    """The daemon's error as the command would have raised it (a ProVoice error class of `provoice`
    with its message), else a ProVoiceError with the daemon's text."""
    module, name, detail = reply.get("module", ""), reply.get("error", ""), reply.get("detail", "")
    if module.startswith("provoice."):
        with contextlib.suppress(Exception):
            cls = getattr(importlib.import_module(module), name)
            if isinstance(cls, type) and issubclass(cls, ProVoiceError):
                return cls(detail)
    return ProVoiceError(detail if module else f"the flow daemon failed: {detail}")


def _run(settings: Settings, flow: str, args: dict[str, Any]) -> Any:
    """The flows a daemon runs, by name, with their results as JSON."""
    from deployments.local_server import prefect_api, without_flow_heartbeats
    from provoice.views import stored

    with prefect_api(settings):
        if flow == "ingest":
            from flows.ingest import ingest_files

            with without_flow_heartbeats():
                return stored(ingest_files(args["dataset_id"], args["sources"]))
        if flow == "prepare":
            from flows.prepare import prepare_dataset

            return stored(prepare_dataset(args["dataset_id"]))
    raise ProVoiceError(f"the flow daemon runs ingest and prepare, not {flow!r}")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, token: str, settings: Settings, idle_exit_s: float, inherited: int | None = None, idle_s: float = 0.0
    ):
        super().__init__(("127.0.0.1", 0), _Handler, bind_and_activate=inherited is None)
        if inherited is not None:  # the listening socket of the process this one replaced
            self.socket.close()
            self.socket = socket.socket(fileno=inherited)
            self.server_address = self.socket.getsockname()
        self.token = token
        self.settings = settings
        self.idle_exit_s = idle_exit_s
        self.busy = 0
        self.connections = 0
        self.last = time.monotonic() - idle_s
        self.lock = threading.Lock()
        self.renew = False

    def process_request(self, request, client_address) -> None:
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self.lock:
                self.connections -= 1

    def idle_s(self) -> float:
        with self.lock:
            return 0.0 if self.busy else time.monotonic() - self.last

    def state(self) -> DaemonState:
        return DaemonState(
            busy=self.busy,
            idle_s=self.idle_s(),
            models=loaded_models(),
            idle_exit_s=self.idle_exit_s,
            release_models_s=self.settings.flow_daemon_release_models_s,
        )


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        request = json.loads(self.rfile.readline() or b"{}")
        if not secrets.compare_digest(str(request.get("token", "")), self.server.token):
            self.wfile.write(json.dumps({"ok": False, "error": "", "detail": "wrong token"}).encode() + b"\n")
            return
        if request.get("status"):
            self.wfile.write(json.dumps({"ok": True, "result": asdict(self.server.state())}).encode() + b"\n")
            return
        with self.server.lock:
            self.server.busy += 1
        started = time.monotonic()
        try:
            reply = {"ok": True, "result": _run(self.server.settings, request["flow"], request.get("args", {}))}
        except ProVoiceError as exc:
            reply = {"ok": False, "module": type(exc).__module__, "error": type(exc).__name__, "detail": str(exc)}
        except Exception as exc:  # a bug or an outage: the command shows it as an error, the daemon lives on
            reply = {"ok": False, "error": type(exc).__name__, "detail": f"{type(exc).__name__}: {exc}"}
        finally:
            with self.server.lock:
                self.server.busy -= 1
                self.server.last = time.monotonic()
        print(
            f"{time.strftime('%Y-%m-%d %H:%M:%S')} {request['flow']} {json.dumps(request.get('args', {}))}: "
            f"{'ok' if reply['ok'] else reply['error']} in {time.monotonic() - started:.2f} s",
            flush=True,
        )
        with contextlib.suppress(OSError):
            self.wfile.write(json.dumps(reply).encode() + b"\n")


def serve(settings: Settings, idle_exit_s: float, inherited: int | None = None, idle_s: float = 0.0) -> None:
    """Run the daemon until it has been idle for `idle_exit_s`; one per home (a second one exits).
    After `settings.flow_daemon_release_models_s` idle with models loaded it replaces itself with a
    fresh interpreter (`renew`). `inherited` and `idle_s` are that replacement's listening socket and
    the idle time it takes over."""
    lower_priority(settings.background_nice)
    daemon = FlowDaemon(settings)
    with daemon._locked():
        import flows.ingest  # loaded before the daemon is announced, so no request waits for it
        import flows.prepare  # noqa: F401

        if inherited is None:
            if daemon.running() is not None:
                return
            server = _Server(secrets.token_urlsafe(24), settings, idle_exit_s)
            daemon.write_record(
                DaemonRecord(
                    pid=os.getpid(),
                    port=server.server_address[1],
                    token=server.token,
                    env=env_fingerprint(),
                    started_at=time.time(),
                ),
                mode=0o600,
            )
        else:
            rec = daemon.record()
            if rec is None or rec.pid != os.getpid():
                return  # stopped (or replaced) while this process started again
            server = _Server(rec.token, settings, idle_exit_s, inherited, idle_s)

    release_s = settings.flow_daemon_release_models_s

    def watch_idle() -> None:
        while True:
            time.sleep(min(5.0, idle_exit_s / 2, release_s / 2))
            idle = server.idle_s()
            if idle > idle_exit_s:
                server.shutdown()
                return
            if idle >= release_s and loaded_models():
                server.renew = True
                server.shutdown()
                return

    threading.Thread(target=watch_idle, name="idle-exit", daemon=True).start()
    stopping = threading.Event()

    def on_sigterm(*_) -> None:
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    # `server stop` sends SIGTERM: leave the loop and exit normally, so Prefect's exit handlers
    # still send the events and logs of the runs this daemon made.
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        server.serve_forever(poll_interval=0.5)
        if server.renew and not stopping.is_set():
            _renew(server)  # an exec that fails raises: the daemon then ends as an idle one does
    finally:
        server.server_close()
        with daemon._locked():
            current = daemon.record()
            if current is not None and current.pid == os.getpid():
                daemon.record_path.unlink(missing_ok=True)


def _renew(server: _Server) -> None:
    """Become a fresh interpreter on the same pid, port and token, holding no model. Freed model
    memory mostly stays with the process (torch's and CTranslate2's allocators, Python's arenas), so
    only a new process image gives it back. Connections that arrive meanwhile wait in the listening
    socket's backlog; the ones being answered finish first, and Prefect's logs and events are sent."""
    while True:
        with server.lock:
            if not server.connections:
                break
        time.sleep(0.05)
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            service.drain_all(timeout=10)
    idle = server.idle_s()
    fd = server.socket.fileno()
    os.set_inheritable(fd, True)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} idle: renewed to give back {', '.join(loaded_models())}", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "deployments.flow_daemon", "--renewed", str(fd), f"{idle:.3f}"])


if __name__ == "__main__":
    _settings = Settings()
    if sys.argv[1:2] == ["--renewed"]:
        serve(_settings, _settings.flow_daemon_idle_s, inherited=int(sys.argv[2]), idle_s=float(sys.argv[3]))
    else:
        serve(_settings, _settings.flow_daemon_idle_s)
