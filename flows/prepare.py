"""Prepare flow: convert → segment → transcribe → quality → speaker check → manifest.

Per-file steps fan out one task per file and step. A file that fails a step is rejected with
its reason and drops out; the others go on. Results are cached by content, so a re-run only
processes new files.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.events import emit
from provoice.events import DATASET_PREPARED
from provoice.catalog import Catalog
from provoice.dataset.files import processable
from provoice.dataset.outputs import file_summary, manifest_rows
from provoice.dataset.version import dataset_version
from provoice.errors import FileRejected
from provoice.settings import Settings
from tasks.convert import convert_file
from tasks.manifest import write_manifest
from tasks.quality import check_quality, check_speakers
from tasks.segment import segment_file
from tasks.transcribe import transcribe_file


class _Progress:
    """Keeps the catalog's run progress (for the CLI bar) and the Prefect progress artifact in step."""

    def __init__(self, catalog: Catalog, run_id: str, total: int):
        self.catalog, self.run_id, self.total, self.done = catalog, run_id, max(total, 1), 0
        self.artifact = create_progress_artifact(0.0, description="Dataset preparation")

    def advance(self) -> None:
        self.done += 1
        self.catalog.update_run(self.run_id, progress_done=self.done)
        if self.artifact is not None:
            update_progress_artifact(self.artifact, 100.0 * self.done / self.total)


def _fan_out(step: str, task, inputs: dict[str, tuple], names: dict[str, str], settings: Settings,
             reasons: dict[str, str], progress: _Progress) -> dict[str, dict]:
    """Submit one task per file, wait, and move failures into `reasons`."""
    futures = {fid: task.with_options(task_run_name=f"{step} {names[fid]}").submit(settings, *args)
               for fid, args in inputs.items()}
    results = {}
    for fid, fut in futures.items():
        value = fut.result(raise_on_failure=False)
        progress.advance()
        if isinstance(value, FileRejected):
            reasons[fid] = str(value)
        elif isinstance(value, BaseException):
            get_run_logger().error("%s failed for %s: %r", step, names[fid], value)
            reasons[fid] = f"internal error during {step}: {type(value).__name__}: {value}"
        else:
            results[fid] = value
    return results


@flow(name="prepare-dataset", task_runner=ThreadPoolTaskRunner(max_workers=4))
def prepare_dataset(dataset_id: str) -> dict:
    """Prepare every file of a dataset and write its manifest and report for the current version."""
    settings = Settings()
    catalog = Catalog(settings)
    files = catalog.files(dataset_id)
    todo = [f for f in files if processable(f)]
    names = {f.id: f.original_name for f in todo}
    version = dataset_version([f.sha256 for f in todo], settings.preparation_settings())
    run = catalog.start_run(dataset_id, version, settings.preparation_settings(), 4 * len(todo) + 1)
    progress = _Progress(catalog, run.id, 4 * len(todo) + 1)
    reasons: dict[str, str] = {}
    try:
        conv = _fan_out("convert", convert_file, {f.id: (f.sha256, f.raw_uri) for f in todo},
                        names, settings, reasons, progress)
        segs = _fan_out("segment", segment_file, {k: (v,) for k, v in conv.items()},
                        names, settings, reasons, progress)
        trs = _fan_out("transcribe", transcribe_file, {k: (v,) for k, v in segs.items()},
                       names, settings, reasons, progress)
        quals = _fan_out("quality", check_quality, {k: (v,) for k, v in trs.items()},
                         names, settings, reasons, progress)
        quals, similarity = check_speakers(settings, quals)
        summaries, rows = [], []
        for f in files:
            entry = {"id": f.id, "name": f.original_name, "format": f.format,
                     "duration_s": f.duration_s, "accepted_s": 0.0, "segments": 0,
                     "status": f.status, "reason": f.reason, "warnings": []}
            if f.id in quals:
                q = quals[f.id]
                entry.update(file_summary(q), duration_s=q["duration_s"], warnings=q["warnings"])
                rows.extend(manifest_rows(f.id, q))
            elif f.id in reasons:
                entry.update(status="rejected", reason=reasons[f.id])
            catalog.update_file(f.id, status=entry["status"], reason=entry["reason"],
                                accepted_s=entry["accepted_s"], segments=entry["segments"],
                                warnings=entry["warnings"], duration_s=entry["duration_s"])
            summaries.append(entry)
        report = write_manifest(settings, dataset_id, version, summaries, rows, similarity)
        progress.advance()
    except BaseException:
        catalog.update_run(run.id, status="failed")
        raise
    summary = {
        "dataset_id": dataset_id, "version": version,
        "accepted_seconds": report["accepted_seconds"], "min_seconds": report["min_seconds"],
        "enough": report["enough"], "manifest_uri": report["manifest_uri"],
        "report_uri": report["report_uri"], "message": report["message"],
        "files": [{k: s[k] for k in ("id", "name", "status", "reason", "duration_s", "accepted_s",
                                     "segments")} for s in summaries],
    }
    catalog.update_run(run.id, status="completed", summary=summary,
                       manifest_uri=report["manifest_uri"], report_uri=report["report_uri"])
    emit(DATASET_PREPARED, "dataset", dataset_id,
         {"version": version, "accepted_seconds": report["accepted_seconds"], "enough": report["enough"]})
    return summary
