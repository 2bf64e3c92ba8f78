"""What every benchmark shares: its log line, the machine it ran on, the code it measured, a
private Prefect server, ingesting a folder, and its section in docs/BENCHMARKS.md. Each script
keeps only its measurement."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "BENCHMARKS.md"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def bench_work(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A scratch folder under .bench/ for one run, removed afterwards unless `keep`."""
    (ROOT / ".bench").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=ROOT / ".bench"))
    try:
        yield work
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict:
    """CPU, cores, memory, load at start and the Python (plus torch and GPU when torch is loaded)."""
    import psutil

    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor())
    out = {
        "arch": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        out.update(
            torch=torch.__version__,
            threads=torch.get_num_threads(),
            gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        )
    return out


def machine_line(m: dict) -> str:
    return (
        f"- machine: `{m['arch']}`, {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; "
        f"load average at start {m['load_avg_at_start']} (shared machine)"
    )


def code_version(paths: Sequence[str] = ()) -> str:
    """HEAD, and whether the measured code differs from it: the figures belong to that code."""

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("diff", "--name-only", "HEAD", "--", *paths)
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def run_info(script: str, code_paths: Sequence[str], argv: Sequence[str] | None) -> dict:
    """What every bench result records: the machine, the date, the measured code and the command."""
    import datetime as dt
    import shlex
    import sys

    return {
        "machine": machine(),
        "date": dt.date.today().isoformat(),
        "code": code_version(code_paths),
        "command": f"python bench/{script} " + shlex.join(sys.argv[1:] if argv is None else argv),
    }


def set_env(work: Path) -> None:
    """A private ProVoice home and Prefect home, so nothing touches the user's (set before imports)."""
    os.environ["PROVOICE_HOME"] = str(work / "home")
    os.environ["PREFECT_HOME"] = str(work / "prefect")
    os.environ["PROVOICE_MIN_SPEECH_SECONDS"] = "60"
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def prefect_server(work: Path) -> Iterator[tuple[str, Path]]:
    """A private Prefect server (its own home and SQLite database under `work`) started by the
    launcher every ProVoice command uses (`deployments.local_server`); yields the API URL and the
    server's log, and stops it at the end."""
    from deployments.local_server import LocalServer
    from provoice.settings import Settings

    server = LocalServer(Settings(home=work / "prefect-server"), say=log)
    try:
        rec = server.ensure()
        yield rec.api_url, Path(rec.prefect_home) / "server.log"
    finally:
        server.stop()


def ingest(folder: Path, name: str = "bench") -> str:
    """A new dataset holding every file of `folder`; its id."""
    from flows.ingest import ingest_files
    from provoice.catalog import Catalog
    from provoice.settings import Settings

    ds = Catalog(Settings()).create_dataset(name)
    ingest_files(ds.id, [str(folder)])
    return ds.id


def section(key: str, body: str) -> str:
    """One measurement in docs/BENCHMARKS.md, between markers so a re-run replaces it."""
    return f"<!-- bench:{key} -->\n{body.rstrip()}\n<!-- /bench -->\n"


def write_sections(sections: dict[str, str]) -> None:
    """Replace each `key`'s section (same part and date) or append it."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n## Measurements\n"
    for key, body in sections.items():
        new = section(key, body)
        pattern = re.compile(rf"<!-- bench:{re.escape(key)} -->.*?<!-- /bench -->\n?", re.DOTALL)
        text = pattern.sub(lambda _, new=new: new, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + new
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)
