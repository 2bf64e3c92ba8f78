"""Shared retry policy: transient failures retry with backoff, a file's own problems never do."""

from __future__ import annotations

from provoice.errors import FileRejected, TransientError

RETRY_DELAYS = [2, 8, 30]


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, FileRejected):
        return False
    return isinstance(exc, (TransientError, ConnectionError, TimeoutError, OSError))


def retry_transient(task, task_run, state) -> bool:
    """Prefect retry condition: retry only when the failure is worth another try."""
    try:
        state.result()
    except BaseException as exc:
        return is_transient(exc)
    return False


STEP_OPTIONS = dict(retries=len(RETRY_DELAYS), retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_transient)
