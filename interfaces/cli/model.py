"""`provoice model`: fine-tune a base model on a dataset and evaluate models."""

from typing import Optional

import typer

from interfaces.cli.context import open_catalog, run_flow
from interfaces.cli.output import command, out, with_progress
from provoice.settings import Settings
from provoice.views import EvaluationView, FineTuneSummary

app = typer.Typer(help="Fine-tune and evaluate voice models.", no_args_is_help=True)


def _render_trained(summary: FineTuneSummary) -> None:
    ev = summary.evaluation
    out.print(f"model [bold]{summary.model_id}[/] after {summary.steps} steps: WER {ev.wer:.1%}, "
              f"speaker similarity {ev.speaker_similarity}, DNSMOS {ev.dnsmos:.2f}")
    out.print(f"ONNX voice: {summary.onnx_uri}\nloss curve: {summary.loss_curve_uri}")


@command(app, "train", render=_render_trained)
def train(dataset_id: str,
          base_model: Optional[str] = typer.Option(None, "--base-model", help="default: the latest"),
          run_id: Optional[str] = typer.Option(None, "--run-id", help="re-use to resume a run"),
          max_steps: Optional[int] = typer.Option(None, "--max-steps"),
          max_minutes: Optional[float] = typer.Option(None, "--max-minutes"),
          batch_size: int = typer.Option(8, "--batch-size")) -> FineTuneSummary:
    """Fine-tune a base model on a prepared dataset; prints the pinned model id and its evaluation."""
    from flows.train import fine_tune_model, resolve_inputs
    from provoice.errors import InvalidSource

    if max_steps is None and max_minutes is None:
        raise InvalidSource("give a training budget: --max-steps N and/or --max-minutes M")
    resolve_inputs(Settings(), dataset_id, base_model, run_id)
    return run_flow("fine-tuning", lambda: fine_tune_model(
        dataset_id, base_model_id=base_model, run_id=run_id, max_steps=max_steps, max_minutes=max_minutes,
        batch_size=batch_size))


def _render_evaluation(evaluation: EvaluationView) -> None:
    for row in evaluation.sentences:
        out.print(f"{row['wer']:.2f}  {row['text']}  →  {row['transcript']}", markup=False)
    out.print(f"WER {evaluation.wer:.1%}, speaker similarity {evaluation.speaker_similarity}, "
              f"DNSMOS {evaluation.dnsmos:.2f}")


@command(app, "evaluate", render=_render_evaluation)
def evaluate(model_id: str,
             dataset: str = typer.Option(..., "--dataset", help="dataset whose held-out segments to compare with")
             ) -> EvaluationView:
    """Score a model: WER of held-out sentences, speaker similarity to real held-out speech, DNSMOS."""
    from provoice.voice_models import evaluate_model

    settings = Settings()
    prepared = open_catalog(settings).prepared_run(dataset)
    evaluation = with_progress("evaluating", lambda: evaluate_model(settings, model_id, prepared.manifest_uri))
    return EvaluationView(**evaluation.summary(), sentences=evaluation.sentences)
