"""Serve every ProVoice deployment (schedules and triggers included) from this process.

Run by `provoice serve` as a child process with PREFECT_API_URL set; each flow run executes in its
own subprocess and reads its settings from the environment at its flow's entry.
"""

from __future__ import annotations

import logging

from deployments.definitions import runner_deployments
from provoice.settings import Settings


def serve_deployments(settings: Settings, limit: int | None = None) -> None:
    """Create the `gpu` concurrency limit if needed, then serve until interrupted."""
    from prefect import serve
    from prefect.client.orchestration import get_client

    from deployments.setup import ensure_gpu_limit

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name("gpu")
        except Exception:
            ensure_gpu_limit(client, settings.gpu_concurrency)
            logging.getLogger(__name__).info(
                "created global concurrency limit gpu (%d slot(s))", settings.gpu_concurrency
            )
    serve(*runner_deployments(), limit=limit, pause_on_shutdown=False)


if __name__ == "__main__":
    serve_deployments(Settings())
