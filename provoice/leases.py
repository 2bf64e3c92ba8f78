"""Renewing a lease from a thread, for work whose process must be seen to be alive: a training PVC
(`provoice.pvc.lifecycle.Heartbeat`) and a preparation run (`provoice.dataset.runs.RunLease`). The
lease lapses by itself when the process dies; whoever reads the record then finds it lapsed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Self


class LeaseRenewer:
    """Calls `renew` at once and then every third of `lease_s` while the block runs (a thread, so a
    long step does not starve it). `renew` answers False when there is nothing left to renew, which
    ends the renewals; an error (a database hiccup) is tried again at the next beat, before the lease
    ends. While `paused`, another process renews the lease and this one leaves it alone."""

    def __init__(self, renew: Callable[[], bool], lease_s: float, name: str):
        self._renew_once, self.lease_s = renew, lease_s
        self.paused = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=name, daemon=True)

    def _renew(self) -> bool:
        try:
            return self._renew_once()
        except Exception:
            return True

    def _beat(self) -> None:
        while not self._stop.wait(max(0.2, self.lease_s / 3)):
            if not self.paused and not self._renew():
                return

    def __enter__(self) -> Self:
        self._renew()  # at once: a process taking the lease over renews it before the old holder's runs out
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
