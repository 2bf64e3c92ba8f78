"""`provoice` command line: datasets now; models, PVCs and serving build on the same pattern.

`--json` prints exactly one JSON document on stdout. Domain errors print one line on stderr and
exit non-zero, without a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from provoice.catalog import Catalog
from provoice.errors import ProVoiceError
from provoice.settings import Settings

app = typer.Typer(help="ProVoice: professional voice cloning, self-hosted.", no_args_is_help=True)
dataset_app = typer.Typer(help="Create, edit and prepare datasets.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
err = Console(stderr=True)
out = Console()


def handles_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ProVoiceError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(1)
    return wrapper


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def file_json(f) -> dict:
    return {"id": f.id, "name": f.original_name, "status": f.status, "reason": f.reason,
            "format": f.format, "size": f.size, "sha256": f.sha256, "duration_s": f.duration_s,
            "accepted_s": f.accepted_s, "segments": f.segments, "warnings": f.warnings}


def _files_table(title: str, files: list[dict]) -> Table:
    table = Table(title=title)
    for col in ("id", "name", "status", "reason"):
        table.add_column(col, overflow="fold")
    for f in files:
        colour = {"accepted": "green", "rejected": "red"}.get(f["status"], "yellow")
        table.add_row(f["id"], f["name"], f"[{colour}]{f['status']}[/]", f.get("reason") or "")
    return table


def _run_with_progress(label: str, fn: Callable[[], object], poll: Callable[[], tuple[int, int]] | None,
                       show: bool):
    """Run `fn` in a thread, drawing a progress bar from `poll` unless output is JSON."""
    if not show:
        return fn()
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)
        worker.start()
        while worker.is_alive():
            if poll is not None:
                done, total = poll()
                if total:
                    bar.update(task, completed=done, total=total)
            worker.join(0.5)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _ingest(settings: Settings, dataset_id: str, sources: list[str]) -> list[dict]:
    from flows.ingest import ingest_files
    from provoice.dataset.sources import list_sources

    list_sources(sources, settings)
    return ingest_files(dataset_id, sources)


@dataset_app.command("create")
@handles_errors
def dataset_create(name: str, sources: Optional[list[str]] = typer.Option(None, "--from", help="file, folder or s3:// prefix"),
                   as_json: bool = typer.Option(False, "--json")):
    """Create a dataset, optionally adding files right away."""
    settings = Settings()
    catalog = Catalog(settings)
    if sources:
        from provoice.dataset.sources import list_sources

        list_sources(sources, settings)
    ds = catalog.create_dataset(name)
    files = _run_with_progress("ingesting", lambda: _ingest(settings, ds.id, sources), None,
                               not as_json) if sources else []
    if as_json:
        emit_json({"id": ds.id, "name": ds.name, "files": files})
    else:
        out.print(f"created dataset [bold]{ds.id}[/] ({ds.name})")
        if files:
            out.print(_files_table("files", files))


@dataset_app.command("add")
@handles_errors
def dataset_add(dataset_id: str, sources: list[str], as_json: bool = typer.Option(False, "--json")):
    """Add files, folders or an s3:// prefix to a dataset."""
    settings = Settings()
    Catalog(settings).get_dataset(dataset_id)
    files = _run_with_progress("ingesting", lambda: _ingest(settings, dataset_id, sources), None, not as_json)
    if as_json:
        emit_json({"id": dataset_id, "files": files})
    else:
        out.print(_files_table(f"added to {dataset_id}", files))


@dataset_app.command("remove-file")
@handles_errors
def dataset_remove_file(dataset_id: str, file_id: str, as_json: bool = typer.Option(False, "--json")):
    """Remove one file from a dataset; other files' results are untouched."""
    settings = Settings()
    catalog = Catalog(settings)
    removed = catalog.remove_file(dataset_id, file_id)
    if as_json:
        emit_json({"id": dataset_id, "removed": removed.id})
    else:
        out.print(f"removed {removed.id} ({removed.original_name}) from {dataset_id}")


@dataset_app.command("list")
@handles_errors
def dataset_list(as_json: bool = typer.Option(False, "--json")):
    """List datasets."""
    catalog = Catalog(Settings())
    rows = [{"id": d.id, "name": d.name, "created_at": d.created_at.isoformat(),
             "files": len(catalog.files(d.id))} for d in catalog.list_datasets()]
    if as_json:
        emit_json(rows)
        return
    table = Table(title="datasets")
    for col in ("id", "name", "files", "created_at"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["name"], str(r["files"]), r["created_at"])
    out.print(table)


@dataset_app.command("show")
@handles_errors
def dataset_show(dataset_id: str, as_json: bool = typer.Option(False, "--json")):
    """Show a dataset, its files and its latest preparation."""
    catalog = Catalog(Settings())
    ds = catalog.get_dataset(dataset_id)
    run = catalog.latest_run(dataset_id)
    obj = {"id": ds.id, "name": ds.name, "created_at": ds.created_at.isoformat(),
           "files": [file_json(f) for f in catalog.files(dataset_id)],
           "latest_preparation": run and {"version": run.version, "manifest_uri": run.manifest_uri,
                                          "report_uri": run.report_uri,
                                          "accepted_seconds": run.summary.get("accepted_seconds"),
                                          "enough": run.summary.get("enough")}}
    if as_json:
        emit_json(obj)
        return
    out.print(f"[bold]{ds.name}[/] ({ds.id})")
    out.print(_files_table("files", obj["files"]))
    if run:
        out.print(f"latest preparation: version {run.version}, {run.summary.get('message', '')}")
        out.print(f"report: {run.report_uri}")


@dataset_app.command("prepare")
@handles_errors
def dataset_prepare(dataset_id: str, as_json: bool = typer.Option(False, "--json")):
    """Run the preparation flow: convert, segment, transcribe, check quality, write the manifest."""
    from flows.prepare import prepare_dataset

    catalog = Catalog(Settings())
    catalog.get_dataset(dataset_id)
    started = time.time()

    def poll() -> tuple[int, int]:
        run = catalog.latest_run(dataset_id, status="running")
        if run is None or run.created_at.timestamp() < started - 5:
            return 0, 0
        return run.progress_done, run.progress_total

    summary = _run_with_progress("preparing", lambda: prepare_dataset(dataset_id), poll, not as_json)
    if as_json:
        emit_json(summary)
        return
    out.print(_files_table(f"dataset {dataset_id}, version {summary['version']}", summary["files"]))
    colour = "green" if summary["enough"] else "yellow"
    out.print(f"[{colour}]{summary['message']}[/]")
    out.print(f"manifest: {summary['manifest_uri']}\nreport:   {summary['report_uri']}")


@dataset_app.command("export")
@handles_errors
def dataset_export(dataset_id: str, dest: str,
                   fmt: str = typer.Option("ljspeech", "--format", help="ljspeech or jsonl")):
    """Export the latest prepared version as an LJSpeech folder or a JSONL manifest."""
    from provoice.dataset.outputs import export_dataset
    from provoice.errors import InvalidSource, NotFound
    from provoice.storage import Storage

    if fmt not in ("ljspeech", "jsonl"):
        raise InvalidSource(f"unknown export format {fmt!r}: use ljspeech or jsonl")
    settings = Settings()
    catalog = Catalog(settings)
    catalog.get_dataset(dataset_id)
    run = catalog.latest_run(dataset_id)
    if run is None:
        raise NotFound(f"dataset {dataset_id} has not been prepared yet: run `provoice dataset prepare {dataset_id}`")
    target = export_dataset(Storage.from_settings(settings), settings, run.manifest_uri, fmt, dest)
    out.print(f"exported {fmt} to {target}")


if __name__ == "__main__":
    app()
