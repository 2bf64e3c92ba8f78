"""`provoice model`: fine-tune a base model on a dataset and evaluate models."""

import json
from pathlib import Path

import typer

from interfaces.cli.context import command_settings, local_account, open_catalog, run_flow
from interfaces.cli.output import command, out, with_progress
from interfaces.cli.voices import render_piper_export
from provoice.views import Evaluation, FineTuneResult, PiperExportView, TrainingBundle

app = typer.Typer(help="Fine-tune and evaluate voice models.", no_args_is_help=True)


def _render_trained(result: FineTuneResult) -> None:
    best = f", best step {result.best_step} exported" if result.best_step is not None else ""
    out.print(f"model [bold]{result.model_id}[/] after {result.steps} steps{best}")
    out.print(result.evaluation.line(), markup=False)
    out.print(f"ONNX voice: {result.onnx_uri}\nloss curve: {result.loss_curve_uri}")


@command(app, "train", render=_render_trained)
def train(
    dataset_id: str,
    base_model: str | None = typer.Option(None, "--base-model", help="default: the latest"),
    run_id: str | None = typer.Option(None, "--run-id", help="re-use to resume a run"),
    max_steps: int | None = typer.Option(None, "--max-steps"),
    max_minutes: float | None = typer.Option(None, "--max-minutes"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="default: the recipe's"),
) -> FineTuneResult:
    """Fine-tune a base model on a prepared dataset; prints the pinned model id and its evaluation."""
    from flows.train import fine_tune_model, resolve_inputs
    from provoice.errors import InvalidSource

    if max_steps is None and max_minutes is None:
        raise InvalidSource("give a training budget: --max-steps N and/or --max-minutes M")
    resolve_inputs(command_settings(), dataset_id, base_model, run_id)
    return run_flow(
        "fine-tuning",
        lambda: fine_tune_model(
            dataset_id,
            base_model_id=base_model,
            run_id=run_id,
            max_steps=max_steps,
            max_minutes=max_minutes,
            batch_size=batch_size,
        ),
    )


def _render_evaluation(evaluation: Evaluation) -> None:
    for row in evaluation.sentences:
        out.print(f"{row['wer']:.2f}  {row['text']}  →  {row['transcript']}", markup=False)
    out.print(evaluation.line(), markup=False)


@command(app, "evaluate", render=_render_evaluation)
def evaluate(
    model_id: str, dataset: str = typer.Option(..., "--dataset", help="dataset whose held-out segments to compare with")
) -> Evaluation:
    """Score a model: WER of held-out sentences, speaker similarity to real held-out speech, DNSMOS."""
    from provoice.voice_models import evaluate_model

    settings = command_settings()
    prepared = open_catalog(settings).prepared_run(dataset)
    return with_progress("evaluating", lambda: evaluate_model(settings, model_id, prepared.manifest_uri))


def _render_bundle(b: TrainingBundle) -> None:
    out.print(
        f"wrote {b.items} items ({b.audio_seconds / 60:.1f} min of audio, {b.weights} weights, "
        f"{b.total_bytes / 1e6:.1f} MB) to {b.dest}",
        markup=False,
    )
    out.print(f"train it where only torch and numpy are installed: {b.train_command}", markup=False)


@command(app, "bundle", render=_render_bundle)
def bundle(
    dataset_id: str,
    dest: str = typer.Argument(..., help="local directory to write the bundle to"),
    base_model: str | None = typer.Option(None, "--base-model", help="default: the latest"),
    weights: str = typer.Option("fp16", "--weights", help="fp32, fp16, or int8 (compact)"),
    max_audio_minutes: float | None = typer.Option(
        None, "--max-audio-minutes", help="keep a fixed sample of this much training audio"
    ),
) -> TrainingBundle:
    """Write a self-contained, pre-phonemised training bundle of a prepared dataset for a GPU node."""
    from flows.train import resolve_inputs
    from provoice.errors import InvalidSource
    from provoice.tts.train import BUNDLE_INFO, BUNDLE_WEIGHTS
    from provoice.voice_models import build_bundle, recipe_for

    if weights not in BUNDLE_WEIGHTS:
        raise InvalidSource(f"--weights must be one of {', '.join(BUNDLE_WEIGHTS)}, not {weights!r}")
    if max_audio_minutes is not None and max_audio_minutes <= 0:
        raise InvalidSource("--max-audio-minutes must be above 0")
    settings = command_settings()
    inputs = resolve_inputs(settings, dataset_id, base_model, None)
    config = recipe_for(settings).train_config(settings)
    files = with_progress(
        "bundling",
        lambda: build_bundle(
            settings,
            inputs,
            weights=weights,
            config=config,
            max_audio_s=None if max_audio_minutes is None else 60 * max_audio_minutes,
        ),
    )
    folder = Path(dest).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    info = json.loads(files[BUNDLE_INFO])
    return TrainingBundle(
        dest=str(folder),
        dataset_id=dataset_id,
        dataset_version=inputs.dataset_version,
        base_model_id=inputs.base_model_id,
        weights=weights,
        items=info["items"],
        audio_seconds=info["audio_seconds"],
        files={n: len(d) for n, d in files.items()},
        total_bytes=sum(len(d) for d in files.values()),
        train_command=f"python -m provoice.tts.train.bundle {folder} OUT --max-minutes 30 --device cuda",
    )


@command(app, "export-piper", render=render_piper_export)
def export_piper(
    model_id: str, dest: str = typer.Argument(..., help="local folder to write the voice into")
) -> PiperExportView:
    """Write a PVC's model with all its voices as one multi-speaker Piper voice (`sid` picks a voice)."""
    from provoice.voice_models import export_piper_model

    settings = command_settings()
    catalog = open_catalog(settings)
    made = with_progress(
        "exporting",
        lambda: export_piper_model(settings, catalog, model_id, Path(dest).expanduser(), local_account(catalog)),
    )
    return PiperExportView.model_validate(made)
