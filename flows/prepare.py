"""Prepare flow: convert → segment → transcribe → quality → speaker check → manifest.

Per-file steps fan out one task per file and step. A file that fails a step is rejected with
its reason and drops out; the others go on. Results are cached by content, so a re-run only
processes new files. `prepare_flow_for(settings)` runs the fan-out on the thread pool, on a local
Dask cluster of worker processes, or on an existing Dask scheduler, with the same results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect import Flow, flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext
from prefect.settings import PREFECT_API_URL
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.run_names import prepare_files_run_name, prepare_run_name
from provoice.catalog import Catalog, PreparationStatus
from provoice.dataset.files import processable
from provoice.dataset.outputs import file_summary, manifest_rows, segment_decisions
from provoice.dataset.runs import RunLease
from provoice.dataset.version import dataset_version
from provoice.errors import ConfigurationError, FileRejected, InfrastructureError, is_infrastructure_failure
from provoice.events import DATASET_PREPARED
from provoice.settings import Settings
from provoice.views import PreparedFile, PrepareSummary
from tasks.convert import convert_file
from tasks.events import emit
from tasks.manifest import write_manifest
from tasks.quality import check_quality, check_speakers
from tasks.segment import segment_file
from tasks.transcribe import transcribe_file

if TYPE_CHECKING:
    from distributed import LocalCluster


STEPS = ("convert", "segment", "transcribe", "quality")


class _Progress:
    """Keeps the catalog's run progress (for the CLI bar) and the Prefect progress artifact in step."""

    def __init__(self, catalog: Catalog, run_id: str, total: int):
        self.catalog, self.run_id, self.total, self.done = catalog, run_id, max(total, 1), 0
        self.artifact = create_progress_artifact(0.0, description="Dataset preparation")

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        self.catalog.update_run(self.run_id, progress_done=self.done)
        if self.artifact is not None:
            update_progress_artifact(self.artifact, 100.0 * self.done / self.total)


def _fan_out(
    step: str,
    task,
    inputs: dict[str, tuple],
    names: dict[str, str],
    settings: Settings,
    reasons: dict[str, str],
    progress: _Progress,
) -> dict[str, dict]:
    """Submit one task per file, wait, and move failures into `reasons`; a file that drops out
    counts its later steps as done, so a finished run shows full progress."""
    futures = {
        fid: task.with_options(task_run_name=f"{step} {names[fid]}").submit(settings, *args)
        for fid, args in inputs.items()
    }
    results, broken = {}, {}
    for fid, fut in futures.items():
        try:
            value = fut.result(raise_on_failure=False)
        except Exception as exc:  # the runner lost the task itself, e.g. a Dask worker process died
            value = exc
        progress.advance(1 if not isinstance(value, BaseException) else len(STEPS) - STEPS.index(step))
        if isinstance(value, FileRejected):
            reasons[fid] = str(value)
        elif isinstance(value, BaseException) and is_infrastructure_failure(value):
            broken[fid] = value
        elif isinstance(value, BaseException):
            get_run_logger().error("%s failed for %s: %r", step, names[fid], value)
            reasons[fid] = f"internal error during {step}: {type(value).__name__}: {value}"
        else:
            results[fid] = value
    if broken:
        first = next(iter(broken.values()))
        raise InfrastructureError(
            f"{step} could not reach storage or another service for {len(broken)} file(s) after retries "
            f"({type(first).__name__}: {first}); no file was rejected for it, prepare again when it is back"
        )
    return results


@flow(name="prepare-dataset", flow_run_name=prepare_run_name)
def prepare_dataset(dataset_id: str) -> PrepareSummary:
    """Prepare every file of a dataset and write its manifest and report for the current version.

    The task runner is chosen here, when the run starts, from the settings of the process that runs
    it, so a deployment run, the CLI and the PVC flow all follow PROVOICE_DASK_* alike; the work
    itself is the `prepare-files` subflow on that runner.
    """
    return prepare_flow_for(Settings())(dataset_id)


@flow(name="prepare-files", flow_run_name=prepare_files_run_name, task_runner=ThreadPoolTaskRunner(max_workers=4))
def prepare_files(dataset_id: str) -> PrepareSummary:
    """The fan-out behind `prepare_dataset`, on whichever task runner it was given."""
    settings = Settings()
    catalog = Catalog(settings)
    files = catalog.files(dataset_id)
    todo = [f for f in files if processable(f)]
    names = {f.id: f.original_name for f in todo}
    version = dataset_version([f.sha256 for f in todo], settings.preparation_settings())
    total = len(STEPS) * len(todo) + 1
    run = catalog.start_run(dataset_id, version, settings.preparation_settings(), total, settings.prepare_lease_seconds)
    progress = _Progress(catalog, run.id, total)
    reasons: dict[str, str] = {}
    with RunLease(catalog, settings, run.id):
        try:
            conv = _fan_out(
                "convert", convert_file, {f.id: (f.sha256, f.raw_uri) for f in todo}, names, settings, reasons, progress
            )
            segs = _fan_out(
                "segment", segment_file, {k: (v,) for k, v in conv.items()}, names, settings, reasons, progress
            )
            trs = _fan_out(
                "transcribe", transcribe_file, {k: (v,) for k, v in segs.items()}, names, settings, reasons, progress
            )
            quals = _fan_out(
                "quality", check_quality, {k: (v,) for k, v in trs.items()}, names, settings, reasons, progress
            )
            quals, speakers = check_speakers(settings, quals)
            summaries, rows = [], []
            for f in files:
                entry = {
                    "id": f.id,
                    "name": f.original_name,
                    "format": f.format,
                    "duration_s": f.duration_s,
                    "accepted_s": 0.0,
                    "segments": 0,
                    "status": f.status,
                    "reason": f.reason,
                    "warnings": [],
                }
                if f.id in quals:
                    q = quals[f.id]
                    entry.update(file_summary(q), duration_s=q["duration_s"], segment_list=segment_decisions(q))
                    rows.extend(manifest_rows(f.id, q))
                elif f.id in reasons:
                    entry.update(status="rejected", reason=reasons[f.id])
                catalog.update_file(
                    f.id,
                    status=entry["status"],
                    reason=entry["reason"],
                    accepted_s=entry["accepted_s"],
                    segments=entry["segments"],
                    warnings=entry["warnings"],
                    duration_s=entry["duration_s"],
                )
                summaries.append(entry)
            report = write_manifest(settings, dataset_id, version, summaries, rows, speakers)
            catalog.save_segments(
                dataset_id, version, ({"file_id": f["id"], **d} for f in summaries for d in f.get("segment_list", []))
            )
            progress.advance()
        except BaseException:
            catalog.update_run(run.id, status=PreparationStatus.FAILED)
            raise
    summary = PrepareSummary(
        dataset_id=dataset_id,
        version=version,
        accepted_seconds=report["accepted_seconds"],
        min_seconds=report["min_seconds"],
        enough=report["enough"],
        manifest_uri=report["manifest_uri"],
        report_uri=report["report_uri"],
        message=report["message"],
        transcript_accuracy=report["transcript_accuracy"],
        files=[PreparedFile.model_validate(s) for s in summaries],
    )
    catalog.update_run(
        run.id,
        status=PreparationStatus.COMPLETED,
        summary=summary.model_dump(mode="json"),
        manifest_uri=report["manifest_uri"],
        report_uri=report["report_uri"],
    )
    emit(
        DATASET_PREPARED,
        "dataset",
        dataset_id,
        {"version": version, "accepted_seconds": report["accepted_seconds"], "enough": report["enough"]},
    )
    return summary


def prepare_task_runner(settings: Settings) -> TaskRunner:
    """The Dask scheduler at `dask_address`, else a local cluster of `dask_local_workers` processes,
    else a pool of `task_workers` threads.

    Worker processes each hold their own Whisper and speaker-encoder models (loaded once per process)
    and run one task at a time, so N workers use N cores without sharing the GIL. Workers of a
    remote scheduler need this package installed and must reach the flow's Prefect API.
    """
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        if not PREFECT_API_URL.value():
            raise ConfigurationError(
                f"PROVOICE_DASK_ADDRESS={settings.dask_address} needs a Prefect server its workers can "
                "reach: set PREFECT_API_URL (a flow's temporary server is private to its machine)"
            )
        return DaskTaskRunner(address=settings.dask_address)
    if settings.dask_local_workers > 0:
        return DaskTaskRunner(
            cluster_class=local_cluster,
            cluster_kwargs={
                "n_workers": settings.dask_local_workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            },
        )
    return ThreadPoolTaskRunner(max_workers=settings.task_workers)


def prepare_flow_for(settings: Settings) -> Flow:
    """The prepare flow on the task runner the settings choose."""
    return prepare_files.with_options(task_runner=prepare_task_runner(settings))


def local_cluster(**kwargs) -> LocalCluster:
    """A `distributed.LocalCluster` whose workers compute and report exactly as the flow's process would.

    - Each task carries the flow's Prefect settings context, so task runs in workers follow even
      temporary settings (a test harness). With no API configured, though, the flow talks to a
      temporary server that no setting names, and every worker started a server of its own on the
      same SQLite database. The cluster is created inside the flow run, on the first submission,
      so the API the flow really uses is known here and goes into the workers' environment.
    - Dask caps OMP/MKL/OpenBLAS at one thread per worker. OpenBLAS's thread count changes
      Whisper's input features in the last bits, enough to change a word, so workers keep the
      flow process's own settings. Dask's nanny also writes its pre-spawn variables into this
      process's environment; that is undone once the workers have started.
    - Dask's own INFO chatter (connections, workers coming and going) stays out of the flow's log,
      as Prefect keeps every other library at WARNING.
    """
    import logging
    import os

    import dask
    from distributed import LocalCluster

    ctx = FlowRunContext.get()
    url = str(ctx.client.api_url) if ctx is not None and ctx.client is not None else PREFECT_API_URL.value()
    env = {**kwargs.pop("env", {}), **({"PREFECT_API_URL": url.rstrip("/")} if url else {})}
    logging.getLogger("distributed").setLevel(logging.WARNING)
    pre_spawn = {
        **{f"{_PRE_SPAWN}.{name}": None for name in _THREAD_CAPS},
        f"{_PRE_SPAWN}.DASK_LOGGING__DISTRIBUTED": "warning",
    }  # read when a worker imports dask
    before = dict(os.environ)
    try:
        with dask.config.set(pre_spawn):
            return LocalCluster(env=env, **kwargs)
    finally:
        for key in set(os.environ) - set(before):
            del os.environ[key]
        os.environ.update({k: v for k, v in before.items() if os.environ.get(k) != v})


_PRE_SPAWN = "distributed.nanny.pre-spawn-environ"
_THREAD_CAPS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
