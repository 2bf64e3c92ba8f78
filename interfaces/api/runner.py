"""Starting the parent flow outside the request: a PVC trains for minutes to hours.

Each start gets its own daemon thread rather than a FastAPI background task, so a long training
neither holds a worker-pool slot nor keeps the server from shutting down. Stopping the server
stops the training with it; the flow records success and failure in the catalog itself.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from provoice.errors import ProVoiceError

log = logging.getLogger(__name__)


class Launcher(Protocol):
    def __call__(self, pvc_id: str, *, retry: bool, max_steps: int | None, max_minutes: float | None) -> None: ...


def launch_in_thread(pvc_id: str, *, retry: bool, max_steps: int | None, max_minutes: float | None) -> None:
    threading.Thread(target=_run, name=f"pvc-{pvc_id}", daemon=True,
                     kwargs={"pvc_id": pvc_id, "retry": retry, "max_steps": max_steps,
                             "max_minutes": max_minutes}).start()


def _run(pvc_id: str, *, retry: bool, max_steps: int | None, max_minutes: float | None) -> None:
    from flows.pvc import pro_voice_clone

    try:
        pro_voice_clone(pvc_id=pvc_id, max_steps=max_steps, max_minutes=max_minutes, retry=retry)
    except ProVoiceError as exc:
        log.warning("PVC %s did not complete: %s", pvc_id, exc)
    except Exception:
        log.exception("PVC %s failed unexpectedly", pvc_id)
