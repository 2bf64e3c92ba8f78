"""Nothing `provoice serve` starts outlives it, however it ends.

The stack starts this watchdog in a session of its own with a pipe on its stdin and writes the
process group of every child it starts to the pipe. When the stack ends in any way, SIGKILL
included, the kernel closes the pipe; the watchdog then stops every child it was told about, with
everything that child started (SIGTERM, then SIGKILL after a grace period), and exits.
"""

from __future__ import annotations

import sys

from deployments.local_server import alive, kill_group


def main() -> None:
    groups: list[int] = []
    for line in sys.stdin:
        line = line.strip()
        if line.isdigit():
            groups.append(int(line))
    for pgid in reversed(groups):
        if alive(pgid):
            kill_group(pgid, grace_s=5.0)


if __name__ == "__main__":
    main()
