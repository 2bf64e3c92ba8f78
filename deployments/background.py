"""What the home's background processes (the local Prefect server, the flow daemon) share: they give
way to foreground work, and they report what they hold.

Both run at a lower CPU priority (`PROVOICE_BACKGROUND_NICE`) so that a fine-tune in the same home
keeps its cores. Niceness only weighs when processes compete for a core: on an otherwise idle
machine the daemon runs a command's flow as fast as at priority 0. Each runs in a session of its
own, and Linux's autogroup scheduling (on by default on desktop kernels) first shares the CPU
between sessions and only then looks at niceness inside each, so the session's autogroup is lowered
as well.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

#: How long `provoice server status` watches the processes to tell their CPU use.
SAMPLE_S = 1.0


def lower_priority(nice: int) -> None:
    """Give way to foreground work from now on: every thread of this process (Linux sets niceness per
    thread; threads started later inherit their starter's) and, when this process leads its session,
    the session's autogroup (never a caller's shell's)."""
    if nice <= 0:
        return
    tasks = Path("/proc/self/task")
    for tid in sorted(int(t) for t in os.listdir(tasks)) if tasks.is_dir() else [0]:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, tid, max(nice, os.getpriority(os.PRIO_PROCESS, tid)))
    if os.getsid(0) == os.getpid():
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(nice))


@dataclass(frozen=True)
class Usage:
    """What a process and its children hold: resident memory, CPU over the sample, priority, age."""

    rss_bytes: int
    cpu_percent: float
    nice: int
    uptime_s: float


def process_tree(pid: int) -> list[psutil.Process]:
    """Process `pid` and every process below it; empty when it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def sample_usage(pids: Iterable[int], sample_s: float = SAMPLE_S) -> dict[int, Usage]:
    """The usage of each process tree, all watched over the same `sample_s` seconds."""
    trees = {pid: process_tree(pid) for pid in pids}
    before, started = {pid: _cpu_s(t) for pid, t in trees.items()}, time.monotonic()
    time.sleep(sample_s if trees else 0.0)
    elapsed = time.monotonic() - started
    usage = {}
    for pid, procs in trees.items():
        if not procs:
            continue
        with contextlib.suppress(psutil.Error):
            root = procs[0]
            rss = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            usage[pid] = Usage(
                rss_bytes=rss,
                cpu_percent=round(100.0 * (_cpu_s(procs) - before[pid]) / elapsed, 2),
                nice=root.nice(),
                uptime_s=round(time.time() - root.create_time(), 1),
            )
    return usage
