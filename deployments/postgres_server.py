"""A throwaway PostgreSQL server on a free loopback port: the one-machine cluster's database and the
tests' second database.

It is Debian's `postgresql` package run by hand: `initdb` into a temporary folder and `postgres` as a
child process in a process group of its own, no system service touched. PostgreSQL refuses to run
as root, so under root the server runs as the package's `postgres` system user. The server can be
stopped and started again on the same port and data (the cluster's "database down" fault). Tests
get a database each, cloned from a template that the migrations brought to head once, so they never
see one another's rows.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deployments.local_server import free_port

__all__ = ["TEMPLATE", "USER", "PostgresServer", "available", "postgres_server"]

TEMPLATE = "provoice_template"
USER = "provoice"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if found:
        return Path(found[-1]).parent
    postgres = shutil.which("postgres")
    return Path(postgres).parent if postgres else None


def available() -> bool:
    """Whether PostgreSQL's server binaries are installed (`make install` installs them on Debian)."""
    return _bindir() is not None


def _run_as() -> dict:
    """Popen arguments that drop root to the `postgres` user; nothing for anyone else."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


@dataclass
class PostgresServer:
    """One server: its data folder under `root`, its loopback `port`, and its process while it runs."""

    root: Path
    port: int
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://{USER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname={database}", autocommit=True) as c:
            c.execute(sql)

    def create_database(self, name: str) -> str:
        """An empty database `name`; its URL."""
        self.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    @contextmanager
    def fresh_database(self, template: str = TEMPLATE) -> Iterator[str]:
        """A new database cloned from the migrated template (`template0`: an empty one), dropped
        (connections and all) afterwards."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        try:
            yield self.url(name)
        finally:
            from provoice.catalog import close_database

            close_database(self.url(name))
            self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def start(self, timeout_s: float = 30.0) -> subprocess.Popen:
        """Start `postgres` on this server's data and port; return once it answers."""
        bindir = _bindir()
        assert bindir is not None
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.root / "sockets",
            "max_connections": 300,
            # A throwaway server: nothing is forced to disk, but a commit's WAL reaches the OS before it is
            # acknowledged, so a killed server loses no committed transaction (only a lost machine would).
            "fsync": "off",
            "full_page_writes": "off",
        }
        args = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
        self.proc = subprocess.Popen(
            [bindir / "postgres", "-D", self.root / "data", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            **_run_as(),
        )
        self._wait_ready(timeout_s)
        return self.proc

    def stop(self, grace_s: float = 20.0, crash: bool = False) -> None:
        """Stop the server as `pg_ctl stop` does (SIGINT, PostgreSQL's fast shutdown: open sessions are
        ended, in-flight transactions roll back), or with `crash` as `pg_ctl stop -m immediate` does
        (SIGQUIT: every process quits at once, the next start replays the WAL, as after a power cut); then
        SIGKILL after `grace_s`. Its data stays for a later `start`. SIGTERM would be a smart shutdown,
        which waits for every pooled connection to close."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT if crash else signal.SIGINT)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _wait_ready(self, timeout_s: float) -> None:
        import psycopg

        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"postgres exited ({self.proc.returncode}): {self.proc.stderr.read().decode()[-2000:]}"
                )
            try:
                self.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def _init(root: Path) -> None:
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (run `make install`, or apt-get install postgresql)")
    as_user = _run_as()
    sockets = root / "sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    if as_user:
        for path in (root, sockets):
            os.chown(path, as_user["user"], as_user["group"])
    subprocess.run(
        [
            bindir / "initdb",
            "-D",
            root / "data",
            "-U",
            USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
        check=True,
        capture_output=True,
        **as_user,
    )


@contextmanager
def postgres_server(template: bool = True) -> Iterator[PostgresServer]:
    """Start a server in a new temporary folder (with `template`, also a migrated template database for
    `fresh_database`), and stop it and delete its data afterwards."""
    root = Path(tempfile.mkdtemp(prefix="provoice-pg-"))
    _init(root)
    server = PostgresServer(root, free_port())
    try:
        server.start()
        if template:
            server.execute(f"CREATE DATABASE {TEMPLATE}")
            _migrate(server.url(TEMPLATE))
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _migrate(url: str) -> None:
    from sqlalchemy import create_engine

    from provoice.catalog.db import migrate

    engine = create_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
