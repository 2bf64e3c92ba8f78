"""What Prefect knows about the flow runs that own PVC attempts (for the reaper)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def ended_flow_runs(flow_run_ids: list[str]) -> dict[str, str]:
    """{id: state name} of the flow runs that have ended (completed, failed, crashed, cancelled)."""
    if not flow_run_ids or not _api_configured():
        return {}
    import uuid

    from prefect import get_client

    out = {}
    with get_client(sync_client=True) as client:
        for run_id in flow_run_ids:
            try:
                run = client.read_flow_run(uuid.UUID(run_id))
            except Exception as exc:  # the Prefect API is down: a missed check is repeated next time
                log.warning("could not read flow run %s: %s", run_id, exc)
                continue
            if run.state is not None and run.state.is_final():
                out[run_id] = run.state.name
    return out


def _api_configured() -> bool:
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)
