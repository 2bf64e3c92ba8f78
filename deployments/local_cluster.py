"""The served topology on one machine (`make cluster`): the parts `infra/` runs, as local processes.

PostgreSQL (throwaway: databases `prefect` and `provoice`), moto's S3 server (bucket `provoice`), the
Prefect server on PostgreSQL, the one-shot setup (migrate, pools, deployments), the HTTP API, and two
process workers: pool `cpu` (ingest, prepare, the PVC flow) and pool `gpu` (`fine-tune/gpu`, where
`PROVOICE_TRAIN_DEPLOYMENT` sends training). Each part has a `PROVOICE_HOME` of its own, as each
container has its volume: they share only the database and the bucket.

Every part runs in a process group of its own under a `deployments.stack.Stack` with its watchdog,
so nothing outlives the launcher, SIGKILL included. Like compose's `restart: unless-stopped`, `run`
restarts a worker that dies. The integration test drives the same object to inject its faults.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from deployments.background import process_tree
from deployments.definitions import CPU_POOL, GPU_POOL
from deployments.local_server import answers, free_port, healthy, kill_group
from deployments.postgres_server import PostgresServer, postgres_server
from deployments.stack import Stack, StackError, port_free, until_stopped

__all__ = ["BUCKET", "SETUP", "WORKERS", "LocalCluster", "main"]

BUCKET = "provoice"
TRAIN_DEPLOYMENT = "fine-tune/gpu"
#: Worker name → its work pool; `run` restarts these when they die.
WORKERS = {"worker-cpu": CPU_POOL, "worker-gpu": GPU_POOL}
START_TIMEOUT_S = 120.0
#: The one-shot setup, as compose's `setup` service runs it (`provoice` and these arguments, in order).
SETUP = (["ops", "migrate"], ["ops", "setup", "--gpu-pool-type", "process"], ["ops", "deploy"])


def _wait_for(what: str, ready: Callable[[], bool], proc: subprocess.Popen | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise StackError(f"{what} was not ready after {timeout_s:.0f} s")
        time.sleep(0.25)


@dataclass
class LocalCluster:
    """Start with `start()` (or as a context manager), stop with `stop()`; `env` is what every
    ProVoice part reads, `extra_env` adds to it (a test's short leases, a webhook)."""

    root: Path
    api_port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    say: Callable[[str], None] = print
    #: "postgresql" (as infra/ runs it) or "sqlite": the catalog in one file that every part opens
    #: (a one-machine variant, for comparing the two); Prefect stays on PostgreSQL.
    catalog: str = "postgresql"
    stack: Stack = field(init=False)
    postgres: PostgresServer | None = field(default=None, init=False)
    prefect_port: int = field(default_factory=free_port, init=False)
    s3_port: int = field(default_factory=free_port, init=False)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict, init=False)
    _postgres_cm: object = field(default=None, init=False, repr=False)
    _secret: str = field(default_factory=lambda: secrets.token_hex(16), init=False, repr=False)

    def __post_init__(self) -> None:
        self.stack = Stack(say=self.say, watched=True)
        (self.root / "logs").mkdir(parents=True, exist_ok=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def database_url(self) -> str:
        if self.catalog == "sqlite":
            return f"sqlite:///{self.root / 'catalog.db'}"
        assert self.postgres is not None
        return self.postgres.url("provoice")

    @property
    def env(self) -> dict[str, str]:
        """The settings every ProVoice part shares (compose's `x-provoice-env`)."""
        assert self.postgres is not None
        return {
            **os.environ,
            "PROVOICE_DATABASE_URL": self.database_url,
            "PROVOICE_STORAGE_URI": f"s3://{BUCKET}/store",
            "PROVOICE_S3_ENDPOINT_URL": self.s3_endpoint,
            "PROVOICE_UPLOAD_PREFIX": "uploads/",
            "PROVOICE_BUCKET_EVENTS_SECRET": self._secret,
            "PROVOICE_TRAIN_DEPLOYMENT": TRAIN_DEPLOYMENT,
            "PROVOICE_GPU_CONCURRENCY": "2",
            "PROVOICE_FLOW_DAEMON": "false",
            "AWS_ACCESS_KEY_ID": "provoice",
            "AWS_SECRET_ACCESS_KEY": "provoice-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PREFECT_API_URL": self.prefect_api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **self.extra_env,
        }

    def env_for(self, part: str) -> dict[str, str]:
        """`env` with the part's own home (its volume)."""
        home = self.root / part
        home.mkdir(exist_ok=True)
        return {**self.env, "PROVOICE_HOME": str(home)}

    def start(self) -> LocalCluster:
        if not port_free("127.0.0.1", self.api_port):
            raise StackError(f"port {self.api_port} on 127.0.0.1 is in use: pass --api-port")
        self._postgres_cm = postgres_server(template=False)
        self.postgres = self._postgres_cm.__enter__()  # type: ignore[attr-defined]
        assert self.postgres.proc is not None
        self.stack.watch("postgres", self.postgres.proc)
        for database in ("prefect", "provoice"):
            self.postgres.create_database(database)
        self.say(f"started postgres on 127.0.0.1:{self.postgres.port}")
        self._start_s3()
        self.start_prefect_server()
        self._run_setup()
        self.start_part("api")
        _wait_for("the API", lambda: answers(f"{self.api_url}/openapi.json"), self.procs["api"], START_TIMEOUT_S)
        for name in WORKERS:
            self.start_part(name)
        return self

    def _start_s3(self) -> None:
        env = self.env_for("s3")
        self.start_part("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.s3_port)], env)
        _wait_for("moto's S3 server", lambda: answers(f"{self.s3_endpoint}/moto-api/"), self.procs["s3"], 60)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        ).create_bucket(Bucket=BUCKET)

    def start_prefect_server(self) -> None:
        """Start (or, after `stop_part("prefect-server")`, restart) the Prefect server on its port."""
        assert self.postgres is not None
        env = {
            **self.env_for("prefect-server"),
            "PREFECT_HOME": str(self.root / "prefect-server"),
            "PREFECT_API_DATABASE_CONNECTION_URL": self.postgres.url("prefect", driver="asyncpg"),
            "PREFECT_UI_ENABLED": "false",
        }
        env.pop("PREFECT_API_URL")
        argv = [*_prefect(), "server", "start", "--host", "127.0.0.1", "--port", str(self.prefect_port)]
        self.start_part("prefect-server", argv, env)
        _wait_for("the Prefect server", lambda: healthy(self.prefect_api_url), self.procs["prefect-server"], 180)

    def _run_setup(self) -> None:
        """The one-shot setup of compose and the Kubernetes Job: migrate, pools, deployments."""
        env = self.env_for("setup")
        code = (
            "from interfaces.cli import main; import sys\n"
            f"for args in {SETUP!r}:\n"
            "    sys.argv = ['provoice', *args]\n"
            "    try:\n        main()\n"
            "    except SystemExit as e:\n        assert not e.code, e.code\n"
        )
        with open(self.root / "logs" / "setup.log", "ab") as log:
            done = subprocess.run([sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode:
            raise StackError(f"setup failed (code {done.returncode}); see {self.root / 'logs' / 'setup.log'}")
        self.say("setup done: catalog migrated, pools cpu and gpu, deployments registered")

    def argv(self, part: str) -> list[str]:
        if part == "api":
            return [sys.executable, "-m", "interfaces.cli", "api", "--host", "127.0.0.1", "--port", str(self.api_port)]
        pool = WORKERS[part]
        limit = ["--limit", "1"] if pool == GPU_POOL else []
        return [*_prefect(), "worker", "start", "--pool", pool, "--type", "process", "--name", part, *limit]

    def start_part(self, name: str, argv: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        old = self.procs.get(name)
        if old is not None:
            self.stack.forget(old)
        self.procs[name] = self.stack.start(
            name, argv or self.argv(name), env or self.env_for(name), log=self.root / "logs" / f"{name}.log"
        )

    def stop_part(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop one part and everything it started: SIGKILL is a lost machine, SIGTERM a graceful stop."""
        proc = self.procs[name]
        if sig == signal.SIGKILL:  # the whole tree at once, as a lost machine: no child reports anything
            for member in process_tree(proc.pid):
                with contextlib.suppress(psutil.Error):
                    member.kill()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        else:
            kill_group(proc.pid, grace_s=10.0)
        proc.wait()

    def stop_database(self, crash: bool = False) -> None:
        """Stop PostgreSQL: a fast shutdown, or with `crash` an immediate one (recovered from its WAL)."""
        assert self.postgres is not None and self.postgres.proc is not None
        old = self.postgres.proc
        self.postgres.stop(crash=crash)
        self.stack.forget(old)

    def start_database(self) -> None:
        assert self.postgres is not None
        self.stack.watch("postgres", self.postgres.start())

    def run(self) -> int:
        """Block until Ctrl-C; a worker that dies is started again, any other part ending stops all."""

        def check() -> int | None:
            for name, proc in list(self.procs.items()):
                if proc.poll() is None:
                    continue
                if name not in WORKERS:
                    self.say(f"{name} exited with code {proc.returncode}; stopping the cluster")
                    return proc.returncode or 1
                self.say(f"{name} exited with code {proc.returncode}; starting it again")
                self.start_part(name)
            return None

        return until_stopped(check, every_s=1.0)

    def stop(self) -> None:
        self.stack.stop()
        if self._postgres_cm is not None:
            self.postgres = None
            self._postgres_cm.__exit__(None, None, None)  # type: ignore[attr-defined]
            self._postgres_cm = None

    def __enter__(self) -> LocalCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def _prefect() -> list[str]:
    return [sys.executable, "-m", "prefect"]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--root", type=Path, default=None, help="where the parts keep data and logs (default: temp)")
    parser.add_argument("--catalog", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="provoice-cluster-"))
    cluster = LocalCluster(root, args.api_port, catalog=args.catalog)
    try:
        with cluster:
            print(
                f"\nProVoice cluster up (Ctrl-C stops every part):\n"
                f"  API        {cluster.api_url}/docs\n"
                f"  Prefect    {cluster.prefect_api_url}\n"
                f"  S3         {cluster.s3_endpoint} (bucket {BUCKET})\n"
                f"  PostgreSQL {cluster.database_url}\n"
                f"  logs       {root / 'logs'}\n"
                f"  a key:     PROVOICE_DATABASE_URL={cluster.database_url} provoice account create-key\n",
                flush=True,
            )
            return cluster.run()
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
