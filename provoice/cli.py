"""`provoice` command line: datasets, base models and text-to-speech; PVCs and serving build on
the same pattern.

`--json` prints exactly one JSON document on stdout. Domain errors print one line on stderr and
exit non-zero, without a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from provoice.catalog import Catalog
from provoice.errors import ConfigurationError, ProVoiceError
from provoice.settings import Settings
from provoice.views import dataset_json, dataset_row_json, pvc_json, voice_json

app = typer.Typer(help="ProVoice: professional voice cloning, self-hosted.", no_args_is_help=True)
dataset_app = typer.Typer(help="Create, edit and prepare datasets.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
base_model_app = typer.Typer(help="Import, list and pin base models.", no_args_is_help=True)
app.add_typer(base_model_app, name="base-model")
model_app = typer.Typer(help="Fine-tune and evaluate voice models.", no_args_is_help=True)
app.add_typer(model_app, name="model")
pvc_app = typer.Typer(help="Pro voice clones: create, train, retry, show, auto-retrain.", no_args_is_help=True)
app.add_typer(pvc_app, name="pvc")
voices_app = typer.Typer(help="Your voices.", no_args_is_help=True)
app.add_typer(voices_app, name="voices")
credits_app = typer.Typer(help="Your credit balance and ledger.", no_args_is_help=True)
app.add_typer(credits_app, name="credits")
err = Console(stderr=True)
out = Console()


def handles_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ProVoiceError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1)
    return wrapper


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


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
    rows = [dataset_row_json(catalog, d) for d in catalog.list_datasets()]
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
    obj = dataset_json(catalog, ds)
    if as_json:
        emit_json(obj)
        return
    out.print(f"[bold]{ds.name}[/] ({ds.id})")
    out.print(_files_table("files", obj["files"]))
    if run := obj["latest_preparation"]:
        out.print(f"latest preparation: version {run['version']}, {run['message']}")
        out.print(f"report: {run['report_uri']}")


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
    from provoice.errors import InvalidSource
    from provoice.storage import Storage

    if fmt not in ("ljspeech", "jsonl"):
        raise InvalidSource(f"unknown export format {fmt!r}: use ljspeech or jsonl")
    settings = Settings()
    run = Catalog(settings).prepared_run(dataset_id)
    target = export_dataset(Storage.from_settings(settings), settings, run.manifest_uri, fmt, dest)
    out.print(f"exported {fmt} to {target}")


def _prefect_api_configured() -> bool:
    """Events reach automations only through a configured Prefect API; without one, emitting would
    start a throwaway local server whose events nobody sees."""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


def _registered(info, as_json: bool) -> None:
    """Announce a registration (a Prefect event when it is new) and print it."""
    if info.newly_registered and _prefect_api_configured():
        from provoice.events import BASE_MODEL_REGISTERED
        from tasks.events import emit

        emit(BASE_MODEL_REGISTERED, "base-model", info.id,
             {"source": info.source, "kind": info.kind, "sample_rate": info.sample_rate, "uri": info.uri})
    obj = {**info.to_dict(), "created": info.newly_registered, "kind": info.kind, "uri": info.uri, **info.summary}
    if as_json:
        emit_json(obj)
        return
    verb = "registered" if info.newly_registered else "already registered:"
    out.print(f"{verb} base model [bold]{info.id}[/] ({info.source}, {info.sample_rate} Hz)")
    gap = info.summary.get("distillation")
    if gap:
        out.print(f"posterior encoder distilled in {gap['steps']} steps ({gap['seconds']} s): decode gap "
                  f"{gap['gap_before']} -> {gap['gap_after']} mel-L1 (held out {gap['held_out_gap_before']} -> "
                  f"{gap['held_out_gap_after']})")


@base_model_app.command("import-piper-onnx")
@handles_errors
def base_model_import_piper_onnx(
    src: str = typer.Argument(..., help="path to a Piper .onnx (its .onnx.json beside it) or en_US-joe-medium"),
    model_id: Optional[str] = typer.Option(None, "--id", help="default: piper-<voice>-v1"),
    steps: int = typer.Option(200, "--steps", min=0,
                              help="posterior-encoder distillation steps (fewer than about 30 do not converge)"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Import a Piper ONNX voice as a base model, recovering its training-only posterior encoder."""
    from provoice.voice_models import BaseModelRegistry

    registry = BaseModelRegistry(Settings())
    state = {"done": 0, "total": steps}

    def on_step(done: int, total: int) -> None:
        state.update(done=done, total=total)

    info = _run_with_progress("distilling posterior encoder",
                              lambda: registry.import_piper_onnx(src, model_id=model_id, steps=steps, on_step=on_step),
                              lambda: (state["done"], state["total"]), not as_json)
    _registered(info, as_json)


@base_model_app.command("import-piper-ckpt")
@handles_errors
def base_model_import_piper_ckpt(
    path: Path = typer.Argument(..., help="Piper Lightning checkpoint (.ckpt)"),
    model_id: Optional[str] = typer.Option(None, "--id", help="default: piper-ckpt-<file stem>-v1"),
    voice_config: Optional[Path] = typer.Option(None, "--voice-config", help="Piper voice JSON with the phoneme map"),
    espeak_voice: str = typer.Option("en-us", "--espeak-voice"),
    trusted: bool = typer.Option(False, "--trusted", help="allow pickled Python objects (only for trusted files)"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Register a Piper training checkpoint (generator and discriminator) as a base model."""
    from provoice.voice_models import BaseModelRegistry

    registry = BaseModelRegistry(Settings())
    info = registry.load_piper_ckpt(path, model_id=model_id, voice_config=voice_config,
                                    espeak_voice=espeak_voice, trusted=trusted)
    _registered(info, as_json)


@base_model_app.command("create-random")
@handles_errors
def base_model_create_random(
    model_id: str = typer.Option(..., "--id"),
    tiny: bool = typer.Option(True, "--tiny/--medium", help="tiny test-sized model or Piper medium"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Register a randomly initialised base model (for tests and smoke runs)."""
    from provoice.voice_models import BaseModelRegistry

    _registered(BaseModelRegistry(Settings()).create_random(model_id, tiny=tiny, seed=seed), as_json)


@base_model_app.command("list")
@handles_errors
def base_model_list(as_json: bool = typer.Option(False, "--json")):
    """List base models; `latest` is the pinned one, else the newest."""
    from provoice.voice_models import BaseModelRegistry

    rows = [m.to_dict() for m in BaseModelRegistry(Settings()).list()]
    if as_json:
        emit_json(rows)
        return
    table = Table(title="base models")
    for col in ("id", "latest", "source", "sample_rate", "created_at"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["id"], "yes" if r["latest"] else "", r["source"], str(r["sample_rate"]), r["created_at"])
    out.print(table)


@base_model_app.command("pin")
@handles_errors
def base_model_pin(model_id: Optional[str] = typer.Argument(None, help="omit to unpin: the newest is latest"),
                   as_json: bool = typer.Option(False, "--json")):
    """Pin a base model as `latest` regardless of age."""
    from provoice.voice_models import BaseModelRegistry

    registry = BaseModelRegistry(Settings())
    registry.pin(model_id)
    latest = registry.latest()
    if as_json:
        emit_json(latest.to_dict())
    else:
        out.print(f"latest base model: [bold]{latest.id}[/]" + (" (pinned)" if latest.pinned else ""))


@app.command("tts")
@handles_errors
def tts(
    text: str = typer.Option(..., "--text", help="what to say"),
    output: Path = typer.Option(..., "-o", "--output", help="WAV file to write"),
    model_id: str = typer.Option("latest", "--model-id",
                                 help="a base model id (default: the latest) or a fine-tuned <base>/<run> id"),
    reference: Optional[Path] = typer.Option(None, "--reference", help="clip whose voice conditions the model"),
    voice_id: Optional[str] = typer.Option(None, "--voice-id"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    as_json: bool = typer.Option(False, "--json"),
):
    """Speak TEXT with a model and write a WAV at the model's sample rate."""
    import numpy as np

    from provoice.audio.wavio import write_wav
    from provoice.errors import InvalidSource
    from provoice.tts import synthesize
    from provoice.voice_models import load_for_inference

    if reference is not None and not reference.is_file():
        raise InvalidSource(f"reference clip {reference} does not exist")
    settings = Settings()
    embedding = None
    voice = None
    if voice_id is not None:
        from provoice.pvc.tts import voice_for_model

        catalog = Catalog(settings)
        voice = voice_for_model(catalog, _account(catalog), voice_id, model_id)
        embedding = np.asarray(voice.embedding, dtype=np.float32)
    generator, meta = load_for_inference(settings, model_id, settings.resolved_device())
    if reference is not None:
        if generator.config.conditioned:
            from provoice.voice_models import reference_embedding

            embedding = reference_embedding(reference)
        else:
            err.print(f"warning: {meta.id} has no voice conditioning; --reference is ignored and it speaks "
                      "in its own voice", markup=False, highlight=False, soft_wrap=True)
    audio, rate = synthesize(generator, meta, text, embedding, seed=seed)
    if voice is not None:
        from provoice.pvc.tts import meter

        meter(catalog, voice, text)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_wav(output, audio, rate)
    obj = {"model_id": meta.id, "output": str(output), "sample_rate": rate,
           "duration_s": round(len(audio) / rate, 3), "conditioned": embedding is not None}
    if as_json:
        emit_json(obj)
    else:
        out.print(f"wrote {output} ({obj['duration_s']} s at {rate} Hz) with {meta.id}")


@model_app.command("train")
@handles_errors
def model_train(dataset_id: str,
                base_model: Optional[str] = typer.Option(None, "--base-model", help="default: the latest"),
                run_id: Optional[str] = typer.Option(None, "--run-id", help="re-use to resume a run"),
                max_steps: Optional[int] = typer.Option(None, "--max-steps"),
                max_minutes: Optional[float] = typer.Option(None, "--max-minutes"),
                batch_size: int = typer.Option(8, "--batch-size"),
                as_json: bool = typer.Option(False, "--json")):
    """Fine-tune a base model on a prepared dataset; prints the pinned model id and its evaluation."""
    from flows.train import fine_tune_model, resolve_inputs
    from provoice.errors import InvalidSource

    if max_steps is None and max_minutes is None:
        raise InvalidSource("give a training budget: --max-steps N and/or --max-minutes M")
    settings = Settings()
    resolve_inputs(settings, dataset_id, base_model, run_id)
    summary = _run_with_progress("fine-tuning", lambda: fine_tune_model(
        dataset_id, base_model_id=base_model, run_id=run_id, max_steps=max_steps, max_minutes=max_minutes,
        batch_size=batch_size), None, not as_json)
    if as_json:
        emit_json(summary)
        return
    ev = summary["evaluation"]
    out.print(f"model [bold]{summary['model_id']}[/] after {summary['steps']} steps: WER {ev['wer']:.1%}, "
              f"speaker similarity {ev['speaker_similarity']}, DNSMOS {ev['dnsmos']:.2f}")
    out.print(f"ONNX voice: {summary['onnx_uri']}\nloss curve: {summary['loss_curve_uri']}")


@model_app.command("evaluate")
@handles_errors
def model_evaluate(model_id: str, dataset: str = typer.Option(..., "--dataset", help="dataset whose held-out segments to compare with"),
                   as_json: bool = typer.Option(False, "--json")):
    """Score a model: WER of held-out sentences, speaker similarity to real held-out speech, DNSMOS."""
    from provoice.voice_models import evaluate_model

    settings = Settings()
    prepared = Catalog(settings).prepared_run(dataset)
    evaluation = _run_with_progress("evaluating", lambda: evaluate_model(settings, model_id, prepared.manifest_uri),
                                    None, not as_json)
    if as_json:
        emit_json(evaluation.summary())
        return
    for row in evaluation.sentences:
        out.print(f"{row['wer']:.2f}  {row['text']}  →  {row['transcript']}", markup=False)
    s = evaluation.summary()
    out.print(f"WER {s['wer']:.1%}, speaker similarity {s['speaker_similarity']}, DNSMOS {s['dnsmos']:.2f}")


def _account(catalog: Catalog) -> str:
    """The local default account: the CLI acts as it when no API key is configured."""
    from provoice.accounts import default_account

    return default_account(catalog).id


def _print_pvc(obj: dict) -> None:
    colour = {"completed": "green", "failed": "red", "training": "yellow"}.get(obj["status"], "white")
    out.print(f"[bold]{obj['name']}[/] ({obj['id']}): [{colour}]{obj['status']}[/]"
              + (f" — {obj['step']}" if obj["step"] else ""))
    if obj["reason"]:
        out.print(f"reason: {obj['reason']}", markup=False)
    out.print(f"dataset {obj['dataset_id']}, base model {obj['base_model_id']}, attempts {obj['attempts']}")
    if obj["model_id"]:
        out.print(f"model: {obj['model_id']}; charged {obj['charged_credits']:,.0f} credits")
    for v in obj["voices"]:
        out.print(f"  voice {v['id']} {v['name']!r} from file {v['source_file_id']}: preview {v['preview_uri']}")
    last = obj["latest_retrain"]
    out.print(f"auto-retrain {'on' if obj['auto_retrain'] else 'off'}"
              + (f"; last retrain on {last['base_model_id']}: {last['decision']}" if last else ""), markup=False)


@pvc_app.command("create")
@handles_errors
def pvc_create(dataset: str = typer.Option(..., "--dataset"), name: str = typer.Option(..., "--name"),
               base_model: Optional[str] = typer.Option(None, "--base-model", help="default: the latest"),
               language: str = typer.Option("en", "--language"), description: str = typer.Option("", "--description"),
               webhook: Optional[str] = typer.Option(None, "--webhook", help="URL told when it completes or fails"),
               auto_retrain: bool = typer.Option(False, "--auto-retrain",
                                                 help="retrain on each new base model; kept only if not worse"),
               as_json: bool = typer.Option(False, "--json")):
    """Create a PVC (status draft) from a dataset and a base model."""
    from provoice.pvc.service import create_pvc
    from provoice.voice_models import BaseModelRegistry

    settings = Settings()
    catalog = Catalog(settings)
    base = BaseModelRegistry(settings, catalog).get(base_model or "latest")
    pvc = create_pvc(catalog, _account(catalog), dataset, name, base.id, language=language,
                     description=description, webhook_url=webhook, auto_retrain=auto_retrain)
    obj = pvc_json(catalog, pvc)
    emit_json(obj) if as_json else _print_pvc(obj)


def _run_pvc(pvc_id: str, retry: bool, max_steps: int | None, max_minutes: float | None, as_json: bool) -> None:
    from flows.pvc import pro_voice_clone
    from provoice.pvc.service import get_pvc

    catalog = Catalog(Settings())
    get_pvc(catalog, pvc_id, _account(catalog))
    try:
        _run_with_progress("training" if not retry else "retrying",
                           lambda: pro_voice_clone(pvc_id=pvc_id, max_steps=max_steps, max_minutes=max_minutes, retry=retry),
                           None, not as_json)
    except ProVoiceError:
        if get_pvc(catalog, pvc_id).status != "failed":
            raise
    obj = pvc_json(catalog, get_pvc(catalog, pvc_id))
    emit_json(obj) if as_json else _print_pvc(obj)
    if obj["status"] != "completed":
        raise typer.Exit(1)


@pvc_app.command("train")
@handles_errors
def pvc_train(pvc_id: str, max_steps: Optional[int] = typer.Option(None, "--max-steps"),
              max_minutes: Optional[float] = typer.Option(None, "--max-minutes"),
              as_json: bool = typer.Option(False, "--json")):
    """Run the PVC end to end and print it; exits 1 when it failed (the reason is in the output)."""
    _run_pvc(pvc_id, False, max_steps, max_minutes, as_json)


@pvc_app.command("retry")
@handles_errors
def pvc_retry(pvc_id: str, max_steps: Optional[int] = typer.Option(None, "--max-steps"),
              max_minutes: Optional[float] = typer.Option(None, "--max-minutes"),
              as_json: bool = typer.Option(False, "--json")):
    """Re-run a failed PVC: training resumes from its last checkpoint; finished steps are not repeated."""
    _run_pvc(pvc_id, True, max_steps, max_minutes, as_json)


@pvc_app.command("show")
@handles_errors
def pvc_show(pvc_id: str, as_json: bool = typer.Option(False, "--json")):
    from provoice.pvc.service import get_pvc

    catalog = Catalog(Settings())
    obj = pvc_json(catalog, get_pvc(catalog, pvc_id, _account(catalog)))
    emit_json(obj) if as_json else _print_pvc(obj)


@pvc_app.command("list")
@handles_errors
def pvc_list(as_json: bool = typer.Option(False, "--json")):
    from provoice.pvc.service import list_pvcs

    catalog = Catalog(Settings())
    rows = [pvc_json(catalog, p) for p in list_pvcs(catalog, _account(catalog))]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        _print_pvc(r)


@pvc_app.command("auto-retrain")
@handles_errors
def pvc_auto_retrain(pvc_id: str, on: bool = typer.Option(..., "--on/--off", help="retrain on new base models or not"),
                     as_json: bool = typer.Option(False, "--json")):
    """Retrain the PVC on each new base model (no credits); the new model is kept only if not worse."""
    from provoice.pvc.service import set_auto_retrain

    catalog = Catalog(Settings())
    obj = pvc_json(catalog, set_auto_retrain(catalog, pvc_id, on, _account(catalog)))
    emit_json(obj) if as_json else _print_pvc(obj)


@pvc_app.command("retrains")
@handles_errors
def pvc_retrains(pvc_id: str, as_json: bool = typer.Option(False, "--json")):
    """The PVC's retrain decisions, oldest first: promoted, kept or failed, and why."""
    from provoice.pvc.retrain import decisions
    from provoice.pvc.service import get_pvc
    from provoice.views import retrain_json

    catalog = Catalog(Settings())
    get_pvc(catalog, pvc_id, _account(catalog))
    rows = [retrain_json(r) for r in decisions(catalog, pvc_id)]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print(f"PVC {pvc_id} has not been retrained on a new base model yet", markup=False)
    colours = {"promoted": "green", "kept": "yellow", "failed": "red"}
    for r in rows:
        out.print(f"{r['decided_at'][:16].replace('T', ' ')}  base {r['base_model_id']}: "
                  f"[{colours[r['decision']]}]{r['decision']}[/]")
        out.print(f"  {r['old_model_id']} → {r['new_model_id'] or '—'}: {r['reason']}", markup=False, soft_wrap=True)


@voices_app.command("list")
@handles_errors
def voices_list(as_json: bool = typer.Option(False, "--json")):
    """My Voices: every voice of the account."""
    from provoice.pvc.service import account_voices

    catalog = Catalog(Settings())
    rows = [voice_json(v) for v in account_voices(catalog, _account(catalog))]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        out.print(f"{r['id']}  {r['name']}  model {r['model_id']}  preview {r['preview_uri']}", markup=False)


account_app = typer.Typer(help="Accounts and their API keys.", no_args_is_help=True)
app.add_typer(account_app, name="account")


@account_app.command("create-key")
@handles_errors
def account_create_key(account: Optional[str] = typer.Option(None, "--account", help="account id; default: the local account"),
                       as_json: bool = typer.Option(False, "--json")):
    """Create an API key for the HTTP API; its secret is shown this once and only its hash is stored."""
    from provoice.accounts import create_api_key

    catalog = Catalog(Settings())
    account_id = account or _account(catalog)
    key_id, secret = create_api_key(catalog, account_id)
    if as_json:
        emit_json({"account_id": account_id, "key_id": key_id, "secret": secret})
        return
    out.print(f"API key {key_id} for account {account_id}:", highlight=False)
    out.print(secret, markup=False, highlight=False, soft_wrap=True)
    err.print("Store it now: it cannot be shown again. Send it in the X-API-Key header.")


@app.command("api")
@handles_errors
def api(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port")):
    """Serve the HTTP API with uvicorn; OpenAPI docs at /docs."""
    import uvicorn

    from provoice.api.app import create_app

    uvicorn.run(create_app(), host=host, port=port)


@app.command("serve")
@handles_errors
def serve(api_host: str = typer.Option("127.0.0.1", "--api-host"),
          api_port: int = typer.Option(8000, "--api-port"),
          prefect_port: int = typer.Option(4200, "--prefect-port", help="for the local Prefect server"),
          no_api: bool = typer.Option(False, "--no-api", help="serve the deployments only")):
    """Serve the HTTP API and every deployment (schedules, triggers) until Ctrl-C.

    Uses the Prefect server at PREFECT_API_URL, or starts one on 127.0.0.1:--prefect-port.
    """
    from deployments.stack import run_stack

    code = run_stack(api_host, None if no_api else api_port, prefect_port,
                     say=lambda m: err.print(m, markup=False, highlight=False))
    raise typer.Exit(code)


ops_app = typer.Typer(help="Operate a Prefect server: work pools and limits.", no_args_is_help=True)
app.add_typer(ops_app, name="ops")


@ops_app.command("migrate")
@handles_errors
def ops_migrate(as_json: bool = typer.Option(False, "--json")):
    """Bring the catalog schema to the newest migration (run once before starting API and workers)."""
    catalog = Catalog(Settings())
    revision = catalog.revision()
    emit_json({"database": catalog.url, "revision": revision}) if as_json else out.print(
        f"catalog at revision {revision}", markup=False, highlight=False)


@ops_app.command("setup")
@handles_errors
def ops_setup(gpu_pool_type: str = typer.Option("kubernetes", "--gpu-pool-type",
                                                help="kubernetes (GPU nodes) or process (a GPU host, e.g. compose)"),
              gpu_template: Optional[Path] = typer.Option(None, "--gpu-template",
                                                          help="base job template JSON for a kubernetes gpu pool"),
              as_json: bool = typer.Option(False, "--json")):
    """Create or update work pools `cpu` and `gpu` and the `gpu` concurrency limit on PREFECT_API_URL."""
    from deployments.setup import setup

    if gpu_pool_type not in ("kubernetes", "process"):
        raise ConfigurationError(f"--gpu-pool-type must be kubernetes or process, not {gpu_pool_type!r}")
    if not _prefect_api_configured():
        raise ConfigurationError("set PREFECT_API_URL to the Prefect server to set up")
    done = setup(Settings().gpu_concurrency, gpu_pool_type, gpu_template)
    if as_json:
        emit_json(done)
        return
    for line in done:
        out.print(line, markup=False, highlight=False)


@ops_app.command("deploy")
@handles_errors
def ops_deploy(as_json: bool = typer.Option(False, "--json")):
    """Register every deployment (schedules, triggers) on the work pools of PREFECT_API_URL."""
    from deployments.setup import deploy

    if not _prefect_api_configured():
        raise ConfigurationError("set PREFECT_API_URL to the Prefect server to deploy to")
    done = deploy()
    if as_json:
        emit_json(done)
        return
    for line in done:
        out.print(line, markup=False, highlight=False)


@credits_app.command("balance")
@handles_errors
def credits_balance(as_json: bool = typer.Option(False, "--json")):
    from provoice.credits import balance, format_credits

    catalog = Catalog(Settings())
    value = balance(catalog, _account(catalog))
    emit_json({"balance": float(value)}) if as_json else out.print(f"balance: {format_credits(value)} credits")


@credits_app.command("grant")
@handles_errors
def credits_grant(amount: float, as_json: bool = typer.Option(False, "--json")):
    """Add credits to the local account (an operator action)."""
    from decimal import Decimal

    from provoice.credits import balance, format_credits, grant

    catalog = Catalog(Settings())
    account = _account(catalog)
    grant(catalog, account, Decimal(str(amount)))
    value = balance(catalog, account)
    emit_json({"balance": float(value)}) if as_json else out.print(f"granted; balance: {format_credits(value)} credits")


@credits_app.command("history")
@handles_errors
def credits_history(as_json: bool = typer.Option(False, "--json")):
    from provoice.credits import format_credits, history

    catalog = Catalog(Settings())
    rows = [{"id": e.id, "kind": e.kind, "credits": float(e.credits), "reference": e.reference,
             "created_at": e.created_at.isoformat()} for e in history(catalog, _account(catalog))]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        out.print(f"{r['created_at']}  {r['kind']:<13} {format_credits(r['credits']):>12}  {r['reference'] or ''}",
                  markup=False)


if __name__ == "__main__":
    app()
