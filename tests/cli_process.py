"""`provoice` run as a separate process, for tests that kill it the way a lost machine would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def provoice_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`provoice ARGS` in a session of its own (so `os.killpg` reaches what it started), its output
    in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "interfaces.cli", *args],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
