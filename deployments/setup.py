"""Work pools and the `gpu` concurrency limit on a Prefect server, created or updated idempotently.

`cpu` is a process pool for data steps; `gpu` is a Kubernetes pool whose base job template asks for
`nvidia.com/gpu` (variable `gpu_count`, default 1) with a node selector and tolerations, or a process
pool on a GPU host (docker compose). The `gpu` global concurrency limit bounds simultaneous
trainings wherever they run, including `provoice serve` without pools.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from deployments.definitions import CPU_POOL, GPU_LIMIT, GPU_POOL

GPU_TEMPLATE = Path(__file__).parent / "work_pools" / "gpu-kubernetes.json"


def process_template() -> dict:
    from prefect.workers.process import ProcessWorker

    return ProcessWorker.get_default_base_job_template()


def read_template(path: Path) -> dict:
    template = json.loads(Path(path).read_text())
    if not {"job_configuration", "variables"} <= template.keys():
        raise ValueError(f"{path} is not a base job template (needs job_configuration and variables)")
    return template


def ensure_gpu_limit(client, slots: int) -> None:
    client.upsert_global_concurrency_limit_by_name(GPU_LIMIT, slots)


def ensure_pool(client, name: str, kind: str, template: dict) -> str:
    """Create the pool, or update its template when it exists with the same type; say what happened."""
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectNotFound

    try:
        existing = client.read_work_pool(name)
    except ObjectNotFound:
        client.create_work_pool(WorkPoolCreate(name=name, type=kind, base_job_template=template))
        return f"created {kind} work pool {name!r}"
    if existing.type != kind:
        return (
            f"kept work pool {name!r}: it is of type {existing.type}, not {kind} (delete it first to change its type)"
        )
    client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))
    return f"updated {kind} work pool {name!r}"


def setup(
    gpu_slots: int, gpu_pool_type: Literal["kubernetes", "process"] = "kubernetes", gpu_template: Path | None = None
) -> list[str]:
    """Pools `cpu` and `gpu` plus the `gpu` limit on the configured Prefect API; returns what was done."""
    from prefect.client.orchestration import get_client

    template = read_template(gpu_template or GPU_TEMPLATE) if gpu_pool_type == "kubernetes" else process_template()
    with get_client(sync_client=True) as client:
        done = [
            ensure_pool(client, CPU_POOL, "process", process_template()),
            ensure_pool(client, GPU_POOL, gpu_pool_type, template),
        ]
        ensure_gpu_limit(client, gpu_slots)
    return [*done, f"global concurrency limit {GPU_LIMIT!r}: {gpu_slots} slot(s)"]


def deploy() -> list[str]:
    """Register every deployment on the work pools (what `prefect deploy --all` does with
    prefect.yaml; Prefect 3.8.8's `prefect deploy` fails on a pool with a 422 from its own
    worker lookup, `RunnerDeployment.apply` does not make that call)."""
    from deployments.definitions import SPECS, runner_deployments

    done = []
    for s, deployment in zip(SPECS, runner_deployments(on_pools=True)):
        deployment.apply()
        done.append(f"deployed {s.full_name} on work pool {s.work_pool!r}")
    return done
