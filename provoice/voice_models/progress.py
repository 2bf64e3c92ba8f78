"""How far a fine-tune has come, for the people waiting on it: a small JSON next to the run's
checkpoints (`training/<run_id>/progress.json`), written at most every few seconds while it trains
and read by the Playground without touching Prefect."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from provoice.settings import Settings
from provoice.storage import Storage

WRITE_EVERY_S = 2.0


def progress_key(run_id: str) -> str:
    return f"training/{run_id}/progress.json"


def progress_record(m: dict, max_steps: int | None, max_minutes: float | None) -> dict:
    """Step of budget, share done and the seconds left by whichever budget ends first."""
    step, trained_s, rate = int(m["step"]), float(m.get("trained_s", 0.0)), float(m.get("steps_per_s") or 0.0)
    done, left = [], []
    if max_steps:
        done.append(step / max_steps)
        if rate > 0:
            left.append(max(0.0, (max_steps - step) / rate))
    if max_minutes:
        done.append(trained_s / (60 * max_minutes))
        left.append(max(0.0, 60 * max_minutes - trained_s))
    return {
        "step": step,
        "max_steps": max_steps,
        "max_minutes": max_minutes,
        "trained_s": round(trained_s, 1),
        "steps_per_s": round(rate, 3),
        "percent": round(min(100.0, 100.0 * max(done)), 1) if done else None,
        "seconds_left": round(min(left)) if left else None,
        "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


class ProgressWriter:
    """Writes the latest `progress_record`, throttled, so a fast run does not write a file per step."""

    def __init__(self, storage: Storage, run_id: str):
        self.storage, self.key = storage, progress_key(run_id)
        self._last = 0.0

    def __call__(self, record: dict, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < WRITE_EVERY_S:
            return
        self._last = now
        self.storage.write_json(self.key, record)


def training_progress(settings: Settings, run_id: str) -> dict | None:
    """The latest progress record of a run, or None before its first step."""
    storage = Storage.from_settings(settings)
    key = progress_key(run_id)
    return storage.read_json(key) if storage.exists(key) else None
