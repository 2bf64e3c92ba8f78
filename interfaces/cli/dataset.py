"""`provoice dataset`: create, add and remove files, list, show, prepare, export."""

import time
from pathlib import Path

import typer
from rich.table import Table

from interfaces.cli.context import DaemonFlow, command_settings, flow_daemon, open_catalog, run_flow
from interfaces.cli.output import command, out
from provoice.catalog import PreparationStatus
from provoice.dataset.queries import dataset_rows, dataset_view
from provoice.settings import Settings
from provoice.views import DatasetFiles, DatasetRow, DatasetView, PrepareSummary, RemovedFile

app = typer.Typer(help="Create, edit and prepare datasets.", no_args_is_help=True)


def files_table(title: str, files: list) -> Table:
    table = Table(title=title)
    for col in ("id", "name", "status", "reason"):
        table.add_column(col, overflow="fold")
    for f in files:
        colour = {"accepted": "green", "rejected": "red"}.get(f.status, "yellow")
        table.add_row(f.id, f.name, f"[{colour}]{f.status}[/]", f.reason or "")
    return table


def _ingest(settings: Settings, dataset_id: str, sources: list[str], daemon=None) -> DatasetFiles:
    from provoice.dataset.sources import list_sources

    list_sources(sources, settings)

    def here() -> DatasetFiles:
        from flows.ingest import ingest_files

        return ingest_files(dataset_id, sources)

    remote = daemon and DaemonFlow(
        daemon, "ingest", {"dataset_id": dataset_id, "sources": _absolute(sources)}, DatasetFiles.model_validate
    )
    return run_flow("ingesting", here, heartbeats=False, remote=remote)


def _absolute(sources: list[str]) -> list[str]:
    """Local paths as the daemon, which runs in another folder, must see them."""
    return [s if "://" in s else str(Path(s).expanduser().absolute()) for s in sources]


def _render_files(result: DatasetFiles) -> None:
    if result.name is not None:
        out.print(f"created dataset [bold]{result.id}[/] ({result.name})")
    if result.files:
        out.print(files_table("files" if result.name is not None else f"added to {result.id}", result.files))


def _warm_in_background(settings: Settings) -> None:
    """Whisper and the speaker encoder load while the upload is copied (I/O), not after it."""
    import threading

    from provoice.dataset.steps import warm_models

    threading.Thread(target=warm_models, args=(settings,), name="warm-models", daemon=True).start()


PREPARE_HELP = "prepare the dataset right after (one command, one start-up); prints the preparation's summary"


def _render_added(result: DatasetFiles | PrepareSummary) -> None:
    if isinstance(result, PrepareSummary):
        _render_summary(result)
    else:
        _render_files(result)


@command(app, "create", render=_render_added)
def create(
    name: str,
    sources: list[str] | None = typer.Option(None, "--from", help="file, folder or s3:// prefix"),
    then_prepare: bool = typer.Option(False, "--prepare", help=PREPARE_HELP),
) -> DatasetFiles | PrepareSummary:
    """Create a dataset, optionally adding files right away."""
    settings = command_settings()
    catalog = open_catalog(settings)
    if sources:
        from provoice.dataset.sources import list_sources

        list_sources(sources, settings)
    ds = catalog.create_dataset(name)
    daemon = flow_daemon(settings)
    if then_prepare and daemon is None:
        _warm_in_background(settings)
    files = _ingest(settings, ds.id, sources, daemon).files if sources else []
    if then_prepare:
        return _prepare(settings, ds.id, daemon)
    return DatasetFiles(id=ds.id, name=ds.name, files=files)


@command(app, "add", render=_render_added)
def add(
    dataset_id: str, sources: list[str], then_prepare: bool = typer.Option(False, "--prepare", help=PREPARE_HELP)
) -> DatasetFiles | PrepareSummary:
    """Add files, folders or an s3:// prefix to a dataset."""
    settings = command_settings()
    open_catalog(settings).get_dataset(dataset_id)
    daemon = flow_daemon(settings)
    if then_prepare and daemon is None:
        _warm_in_background(settings)
    added = _ingest(settings, dataset_id, sources, daemon)
    return _prepare(settings, dataset_id, daemon) if then_prepare else added


def _render_removed(result: RemovedFile) -> None:
    out.print(f"removed {result.removed} from {result.id}")


@command(app, "remove-file", render=_render_removed)
def remove_file(dataset_id: str, file_id: str) -> RemovedFile:
    """Remove one file from a dataset; other files' results are untouched."""
    removed = open_catalog().remove_file(dataset_id, file_id)
    return RemovedFile(id=dataset_id, removed=removed.id)


def _render_rows(rows: list[DatasetRow]) -> None:
    table = Table(title="datasets")
    for col in ("id", "name", "files", "created_at"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, r.name, str(r.files), r.created_at.isoformat())
    out.print(table)


@command(app, "list", render=_render_rows)
def list_datasets() -> list[DatasetRow]:
    """List datasets."""
    catalog = open_catalog()
    return dataset_rows(catalog, catalog.list_datasets())


def _render_dataset(ds: DatasetView) -> None:
    out.print(f"[bold]{ds.name}[/] ({ds.id})")
    out.print(files_table("files", ds.files))
    if run := ds.latest_preparation:
        out.print(f"latest preparation: version {run.version}, {run.message}")
        out.print(f"report: {run.report_uri}")


@command(app, "show", render=_render_dataset)
def show(dataset_id: str) -> DatasetView:
    """Show a dataset, its files and its latest preparation."""
    catalog = open_catalog()
    return dataset_view(catalog, catalog.get_dataset(dataset_id))


def _render_summary(summary: PrepareSummary) -> None:
    out.print(files_table(f"dataset {summary.dataset_id}, version {summary.version}", summary.files))
    colour = "green" if summary.enough else "yellow"
    out.print(f"[{colour}]{summary.message}[/]")
    out.print(f"manifest: {summary.manifest_uri}\nreport:   {summary.report_uri}")


@command(app, "prepare", render=_render_summary)
def prepare(dataset_id: str) -> PrepareSummary:
    """Run the preparation flow: convert, segment, transcribe, check quality, write the manifest."""
    settings = command_settings()
    return _prepare(settings, dataset_id, flow_daemon(settings))


def _prepare(settings: Settings, dataset_id: str, daemon) -> PrepareSummary:
    catalog = open_catalog(settings)
    catalog.get_dataset(dataset_id)
    started = time.time()

    def poll() -> tuple[int, int]:
        run = catalog.latest_run(dataset_id, status=PreparationStatus.RUNNING)
        if run is None or run.created_at.timestamp() < started - 5:
            return 0, 0
        return run.progress_done, run.progress_total

    def here() -> PrepareSummary:
        from flows.prepare import prepare_dataset

        return prepare_dataset(dataset_id)

    remote = daemon and DaemonFlow(daemon, "prepare", {"dataset_id": dataset_id}, PrepareSummary.model_validate)
    return run_flow("preparing", here, poll, remote=remote)


@command(app, "export", json_flag=False)
def export(
    dataset_id: str, dest: str, fmt: str = typer.Option("ljspeech", "--format", help="ljspeech or jsonl")
) -> None:
    """Export the latest prepared version as an LJSpeech folder or a JSONL manifest."""
    from provoice.dataset.outputs import export_dataset
    from provoice.errors import InvalidSource
    from provoice.storage import Storage

    if fmt not in ("ljspeech", "jsonl"):
        raise InvalidSource(f"unknown export format {fmt!r}: use ljspeech or jsonl")
    settings = command_settings()
    run = open_catalog(settings).prepared_run(dataset_id)
    target = export_dataset(Storage.from_settings(settings), settings, run.manifest_uri, fmt, dest)
    out.print(f"exported {fmt} to {target}")
