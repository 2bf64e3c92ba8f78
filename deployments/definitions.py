"""The ProVoice deployments, their schedules and event triggers, in one place.

`provoice serve` serves exactly these; `provoice ops deploy` registers them on work pools, as
`deployments/prefect.yaml` declares for `prefect deploy` (a test keeps the two in step). Flow code is imported lazily so
reading the names costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from provoice.events import (
    BASE_MODEL_REGISTERED,
    FILES_UPLOADED,
    STAGE_BUCKET,
    STAGE_INGESTED,
    UPLOAD_STAGE,
    id_label,
    resource_id,
)

CPU_POOL = "cpu"
GPU_POOL = "gpu"
GPU_LIMIT = "gpu"
RETRAIN_CRON = "0 3 * * *"
RETRAIN_TIMEZONE = "UTC"
REAP_INTERVAL_S = 60
TAGS = ["provoice"]


def _resource_template(kind: str) -> str:
    return "{{ event.resource['" + id_label(kind) + "'] }}"


@dataclass(frozen=True)
class Trigger:
    """An event trigger as both `DeploymentEventTrigger` and prefect.yaml spell it."""

    name: str
    expect: str
    match: dict[str, str]
    parameters: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "event",
            "name": self.name,
            "enabled": True,
            "expect": [self.expect],
            "match": dict(self.match),
            "posture": "Reactive",
            "threshold": 1,
            "parameters": dict(self.parameters),
        }


@dataclass(frozen=True)
class Spec:
    """One deployment: the flow's entrypoint, where it runs and what starts it."""

    flow_name: str
    name: str
    entrypoint: str
    description: str
    work_pool: str = CPU_POOL
    cron: str | None = None
    interval_s: int | None = None
    triggers: tuple[Trigger, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    job_variables: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"


SPECS: tuple[Spec, ...] = (
    Spec(
        "pro-voice-clone",
        "pro-voice-clone",
        "flows/pvc.py:pro_voice_clone",
        "Professional voice clone: prepare the dataset, fine-tune the base model, create four voices, "
        "charge and notify. Start from the form with a dataset id, a name, a base model and a budget.",
    ),
    Spec(
        "prepare-dataset",
        "prepare-dataset",
        "flows/prepare.py:prepare_dataset",
        "Prepare a dataset (convert, segment, transcribe, quality, manifest); runs by itself when "
        "files are added to a dataset.",
        triggers=(
            Trigger(
                "prepare-on-files-uploaded",
                FILES_UPLOADED,
                {"prefect.resource.id": resource_id("dataset", "*"), UPLOAD_STAGE: STAGE_INGESTED},
                {"dataset_id": _resource_template("dataset")},
            ),
        ),
    ),
    Spec(
        "retrain-on-new-base-model",
        "retrain-on-new-base-model",
        "flows/retrain.py:retrain_on_new_base_model",
        "Retrain auto-retrain PVCs on the latest base model; promote the new model only if it is not "
        "worse on WER and speaker similarity.",
        cron=RETRAIN_CRON,
        triggers=(
            Trigger(
                "retrain-on-base-model-registered",
                BASE_MODEL_REGISTERED,
                {"prefect.resource.id": resource_id("base-model", "*")},
                {"base_model_id": _resource_template("base-model")},
            ),
        ),
    ),
    Spec(
        "ingest-files",
        "ingest-upload",
        "flows/ingest.py:ingest_files",
        "Ingest objects uploaded to a dataset's bucket prefix (forwarded by the API's /bucket-events).",
        triggers=(
            Trigger(
                "ingest-on-bucket-upload",
                FILES_UPLOADED,
                {"prefect.resource.id": resource_id("dataset", "*"), UPLOAD_STAGE: STAGE_BUCKET},
                {"dataset_id": _resource_template("dataset"), "sources": "{{ event.payload.objects }}"},
            ),
        ),
    ),
    Spec(
        "fine-tune",
        "gpu",
        "flows/train.py:fine_tune_model",
        "Fine-tune a base model on a prepared dataset version; the PVC and retrain flows run it here "
        "when PROVOICE_TRAIN_DEPLOYMENT=fine-tune/gpu.",
        work_pool=GPU_POOL,
        job_variables={"gpu_count": 1},
    ),
    Spec(
        "reap-pvcs",
        "reap-pvcs",
        "flows/reap.py:reap_pvcs",
        "Fail PVCs whose worker is gone (lease expired, or flow run ended without finishing them) so "
        "their owners can re-attempt training; runs every minute.",
        interval_s=REAP_INTERVAL_S,
    ),
)


def spec(full_name: str) -> Spec:
    for s in SPECS:
        if s.full_name == full_name:
            return s
    raise KeyError(f"no deployment {full_name!r}; known: {', '.join(s.full_name for s in SPECS)}")


def load_flow(entrypoint: str):
    """The flow object behind a `path/to/file.py:function` entrypoint, imported as a module."""
    path, name = entrypoint.split(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


def runner_deployments(specs: tuple[Spec, ...] = SPECS, on_pools: bool = False) -> list:
    """`RunnerDeployment`s with the schedules and triggers of SPECS: for `prefect.serve`, or, with
    `on_pools`, for work pools. Entrypoints are module paths, so runs import the installed packages
    from any working directory and no pull step is needed."""
    from datetime import timedelta

    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.deployments.runner import EntrypointType
    from prefect.events import DeploymentEventTrigger

    out = []
    for s in specs:
        flow = load_flow(s.entrypoint)
        triggers = [DeploymentEventTrigger(**{k: v for k, v in t.to_dict().items() if k != "type"}) for t in s.triggers]
        schedules = (
            [CronSchedule(cron=s.cron, timezone=RETRAIN_TIMEZONE)]
            if s.cron
            else [IntervalSchedule(interval=timedelta(seconds=s.interval_s))]
            if s.interval_s
            else None
        )
        out.append(
            flow.to_deployment(
                s.name,
                description=s.description,
                tags=TAGS,
                triggers=triggers,
                schedules=schedules,
                parameters=s.parameters or None,
                entrypoint_type=EntrypointType.MODULE_PATH,
                work_pool_name=s.work_pool if on_pools else None,
                job_variables=(s.job_variables or None) if on_pools else None,
            )
        )
    return out
