"""The local Prefect server of an embedded ProVoice home: started once, then reused.

Without `PREFECT_API_URL`, Prefect would start a throwaway server for every command that runs a
flow (about 10 s each, and left behind when the command is killed). Instead the first command
that needs Prefect starts `prefect server start` in the background on 127.0.0.1, with its own
home and database under `PROVOICE_HOME/prefect`, on a free port recorded in
`PROVOICE_HOME/prefect-server.json`; every later command, `provoice serve` and the API reuse it.
A file lock makes two commands started at once share one server; a record whose server no
longer answers is replaced. `provoice server status|stop` shows and stops it.

The server runs only the Prefect services a home uses (`HOME_SERVICES`), at a lower CPU priority,
and stops itself after `PROVOICE_LOCAL_SERVER_IDLE_S` unused (`deployments.local_server_process`):
the record's modification time is when a command, a client or a flow run last used it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from filelock import FileLock

from deployments.background import Usage, process_tree
from provoice.errors import ProVoiceError
from provoice.settings import Settings
from provoice.views import BackgroundProcessView

RECORD = "prefect-server.json"
LOCK = "prefect-server.lock"
START_TIMEOUT_S = 180.0
#: How long a recorded, living server may take to answer before it counts as hung: it runs at a lower
#: priority, and a fine-tune taking every core can delay its answer by seconds.
ANSWER_TIMEOUT_S = 15.0
#: Prefect 3.8 server services a home has no use for (its defaults run them all): ProVoice never pauses
#: or suspends a run, and a home has no work-pool workers to watch or to hand clean-up to. Scheduling
#: and late runs (served cron deployments), triggers, the repossessor (leases of the `gpu` limit),
#: cancellation clean-up, the task-run recorder and the event persister stay. The user's environment wins.
HOME_SERVICES = {
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_ENABLED": "false",
}


class LocalServerError(ProVoiceError):
    """The local Prefect server could not be started or reached."""


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    port: int
    api_url: str
    prefect_home: str
    started_at: float
    idle_stop_s: float = 0.0  # it stops itself after this long unused (0: a record of an older ProVoice)

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Whether `url` answers a GET with success (an error status raises inside urlopen)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status == 200
    except OSError:
        return False


def healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    """Whether the Prefect API at `api_url` answers its health check."""
    return answers(f"{api_url.rstrip('/')}/health", timeout_s)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def kill_group(pgid: int, grace_s: float = 10.0) -> None:
    """SIGTERM the process group `pgid`, then SIGKILL it if what is left of it after `grace_s`.

    The group, not the tree: a child orphaned by a dead parent has left the tree but not the group
    (psutil has no group call, so the signals are os.killpg's; psutil waits and reaps our children)."""
    members = process_tree(pgid)
    for signum, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            return
        _, members = psutil.wait_procs(members, timeout=wait_s)
        if not members:
            return


def free_port() -> int:
    """A loopback port free now (the OS picks it), for a server this process is about to start."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HomeProcess:
    """A background process of one ProVoice home, known by its JSON record (`record_file`, a
    dataclass `record_type`) and created or stopped under the home's file lock (`lock_file`)."""

    record_file: str
    lock_file: str
    record_type: type

    def __init__(self, home: Path):
        self.home = home

    @property
    def record_path(self) -> Path:
        return self.home / self.record_file

    def _locked(self) -> FileLock:
        """The home's lock for this process: held while its record is read, replaced or removed."""
        self.home.mkdir(parents=True, exist_ok=True)
        return FileLock(self.home / self.lock_file)

    def record(self):
        try:
            return self.record_type(**json.loads(self.record_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write_record(self, rec, mode: int = 0o644) -> None:
        """Replace the record at once (a reader sees the old one or the new one, never half)."""
        tmp = self.record_path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        tmp.touch(mode=mode)
        tmp.write_text(json.dumps(asdict(rec)))
        os.replace(tmp, self.record_path)

    def stop(self, grace_s: float = 10.0):
        """Stop the recorded process (if it runs) and forget it; what was recorded."""
        with self._locked():
            rec = self.record()
            if rec is not None and alive(rec.pid):
                kill_group(rec.pid, grace_s)
            self.record_path.unlink(missing_ok=True)
            return rec


class LocalServer(HomeProcess):
    """The background Prefect server of one ProVoice home."""

    record_file, lock_file, record_type = RECORD, LOCK, ServerRecord

    def __init__(self, settings: Settings, say: Callable[[str], None] | None = None):
        super().__init__(settings.home)
        self.settings = settings
        self.say = say or (lambda message: print(message, file=sys.stderr, flush=True))

    def running(self) -> ServerRecord | None:
        """The recorded server if it answers; None otherwise."""
        rec = self.record()
        return rec if rec is not None and alive(rec.pid) and healthy(rec.api_url, ANSWER_TIMEOUT_S) else None

    def ensure(self) -> ServerRecord:
        """The running server, marked used, starting it (once, however many callers ask at the same
        time). Under the lock, so a server that is stopping itself as idle is never handed out."""
        with self._locked():
            rec = self.running()
            if rec is None:
                stale = self.record()
                if stale is not None and alive(stale.pid):
                    self.say(f"the local Prefect server (pid {stale.pid}) does not answer; replacing it")
                    kill_group(stale.pid)
                rec = self._start()
            self.mark_used()
            return rec

    def mark_used(self) -> None:
        with contextlib.suppress(OSError):
            os.utime(self.record_path)

    def idle_for(self) -> float | None:
        """Seconds since the recorded server was last used; None without a record."""
        try:
            return max(0.0, time.time() - self.record_path.stat().st_mtime)
        except OSError:
            return None

    def forget_if_idle(self, pid: int, idle_s: float) -> FileLock | None:
        """If server `pid` is recorded and unused for `idle_s`, remove its record and return the held
        lock, for the server to stop under it: a command waits until it is gone, then starts another."""
        lock = self._locked()
        lock.acquire()
        rec, idle = self.record(), self.idle_for()
        if rec is None or rec.pid != pid or idle is None or idle < idle_s:
            lock.release()
            return None
        self.record_path.unlink(missing_ok=True)
        return lock

    def view(self, rec: ServerRecord | None, usage: dict[int, Usage]) -> BackgroundProcessView:
        """What `provoice server status` shows of the running server `rec`."""
        if rec is None:
            return BackgroundProcessView(running=False)
        idle, used = self.idle_for(), usage.get(rec.pid)
        return BackgroundProcessView(
            running=True,
            pid=rec.pid,
            **(asdict(used) if used else {}),
            idle_s=idle and round(idle, 1),
            stops_in_s=round(max(0.0, rec.idle_stop_s - (idle or 0.0)), 1) if rec.idle_stop_s else None,
        )

    def _start(self) -> ServerRecord:
        port = free_port()
        prefect_home = self.home / "prefect"
        prefect_home.mkdir(parents=True, exist_ok=True)
        env = {**HOME_SERVICES, **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}}
        env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
        self.say(
            f"starting the local Prefect server on 127.0.0.1:{port} (once; later commands reuse it; "
            "`provoice server stop` stops it)…"
        )
        log = (prefect_home / "server.log").open("ab")
        with log:
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "deployments.local_server_process", "--port", str(port)),
                    *("--home", str(self.home)),
                    *("--idle-s", str(self.settings.local_server_idle_s)),
                    *("--nice", str(self.settings.background_nice)),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        api_url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(api_url):
            if proc.poll() is not None:
                raise LocalServerError(
                    f"the local Prefect server exited with code {proc.returncode} while "
                    f"starting; see {prefect_home / 'server.log'}"
                )
            if time.monotonic() > deadline:
                kill_group(proc.pid)
                raise LocalServerError(
                    f"the local Prefect server did not answer on {api_url} within "
                    f"{START_TIMEOUT_S:.0f} s; see {prefect_home / 'server.log'}"
                )
            time.sleep(0.3)
        rec = ServerRecord(
            pid=proc.pid,
            port=port,
            api_url=api_url,
            prefect_home=str(prefect_home),
            started_at=time.time(),
            idle_stop_s=self.settings.local_server_idle_s,
        )
        self.write_record(rec)
        return rec


def without_flow_heartbeats():
    """A block whose flow runs send no heartbeats: for runs of a few seconds (ingesting a file).
    Prefect's heartbeat thread sleeps in whole seconds and a run waits for it at its end (up to a
    second a run), while a crash of such a short run is seen by whoever waits for it."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def prefect_api_configured() -> bool:
    """Whether PREFECT_API_URL (or a Prefect profile) names an API."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


@contextlib.contextmanager
def prefect_api(settings: Settings | None, say: Callable[[str], None] | None = None) -> Iterator[str | None]:
    """A block whose Prefect calls go to the configured API, or to the local server of the home of
    `settings` (started if needed): never to a throwaway server."""
    if prefect_api_configured():
        from prefect.settings import get_current_settings

        yield get_current_settings().api.url
        return
    if settings is None:
        raise LocalServerError(
            "no Prefect API is configured (PREFECT_API_URL) and no ProVoice home was given to start the local server in"
        )
    from prefect.settings import PREFECT_API_URL, temporary_settings

    rec = LocalServer(settings, say).ensure()
    with temporary_settings(updates={PREFECT_API_URL: rec.api_url}):
        yield rec.api_url
