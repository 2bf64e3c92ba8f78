"""`provoice pvc`: pro voice clones — create, train, retry, show, list, auto-retrain, retrains."""

from typing import Optional

import typer

from interfaces.cli.context import local_account, open_catalog, run_flow
from interfaces.cli.output import command, out
from provoice.errors import ProVoiceError
from provoice.settings import Settings
from provoice.views import PvcView, RetrainView, pvc_view, pvc_views

app = typer.Typer(help="Pro voice clones: create, train, retry, show, auto-retrain.", no_args_is_help=True)


def render_pvc(pvc: PvcView) -> None:
    colour = {"completed": "green", "failed": "red", "training": "yellow", "queued": "cyan"}.get(pvc.status, "white")
    out.print(f"[bold]{pvc.name}[/] ({pvc.id}): [{colour}]{pvc.status}[/]" + (f" — {pvc.step}" if pvc.step else ""))
    if pvc.reason:
        out.print(f"reason: {pvc.reason}", markup=False)
    budget = ", ".join(f"{v:g} {k.removeprefix('max_')}" for k, v in pvc.budget.items() if v is not None)
    out.print(f"dataset {pvc.dataset_id}, base model {pvc.base_model_id}, attempts {pvc.attempts}"
              + (f", budget {budget}" if budget else ""))
    if pvc.model_id:
        out.print(f"model: {pvc.model_id}; charged {pvc.charged_credits:,.0f} credits")
    for v in pvc.voices:
        out.print(f"  voice {v.id} {v.name!r} from file {v.source_file_id}: preview {v.preview_uri}")
    last = pvc.latest_retrain
    out.print(f"auto-retrain {'on' if pvc.auto_retrain else 'off'}"
              + (f"; last retrain on {last.base_model_id}: {last.decision}" if last else ""), markup=False)


def _render_pvcs(pvcs: list[PvcView]) -> None:
    for pvc in pvcs:
        render_pvc(pvc)


def _unless_completed(pvc: PvcView) -> int:
    return 0 if pvc.status == "completed" else 1


@command(app, "create", render=render_pvc)
def create(dataset: str = typer.Option(..., "--dataset"), name: str = typer.Option(..., "--name"),
           base_model: Optional[str] = typer.Option(None, "--base-model", help="default: the latest"),
           language: str = typer.Option("en", "--language"), description: str = typer.Option("", "--description"),
           webhook: Optional[str] = typer.Option(None, "--webhook", help="URL told when it completes or fails"),
           auto_retrain: bool = typer.Option(False, "--auto-retrain",
                                             help="retrain on each new base model; kept only if not worse")) -> PvcView:
    """Create a PVC (status draft) from a dataset and a base model."""
    from provoice.pvc.service import create_pvc
    from provoice.voice_models import BaseModelRegistry

    settings = Settings()
    catalog = open_catalog(settings)
    base = BaseModelRegistry(settings, catalog).get(base_model or "latest")
    pvc = create_pvc(catalog, local_account(catalog), dataset, name, base.id, language=language,
                     description=description, webhook_url=webhook, auto_retrain=auto_retrain)
    return pvc_view(catalog, pvc)


def _run(pvc_id: str, retry: bool, max_steps: int | None, max_minutes: float | None) -> PvcView:
    from flows.pvc import pro_voice_clone
    from provoice.pvc.service import get_pvc

    catalog = open_catalog()
    get_pvc(catalog, pvc_id, local_account(catalog))
    try:
        run_flow("retrying" if retry else "training", lambda: pro_voice_clone(
            pvc_id=pvc_id, max_steps=max_steps, max_minutes=max_minutes, retry=retry))
    except ProVoiceError:
        if get_pvc(catalog, pvc_id).status != "failed":
            raise
    return pvc_view(catalog, get_pvc(catalog, pvc_id))


@command(app, "train", render=render_pvc, exit_code=_unless_completed)
def train(pvc_id: str, max_steps: Optional[int] = typer.Option(None, "--max-steps"),
          max_minutes: Optional[float] = typer.Option(None, "--max-minutes")) -> PvcView:
    """Run the PVC end to end and print it; exits 1 when it failed (the reason is in the output)."""
    return _run(pvc_id, False, max_steps, max_minutes)


@command(app, "retry", render=render_pvc, exit_code=_unless_completed)
def retry(pvc_id: str, max_steps: Optional[int] = typer.Option(None, "--max-steps"),
          max_minutes: Optional[float] = typer.Option(None, "--max-minutes")) -> PvcView:
    """Re-run a failed PVC: training resumes from its last checkpoint with what is left of its budget
    (give --max-steps / --max-minutes to change the budget); finished steps are not repeated."""
    return _run(pvc_id, True, max_steps, max_minutes)


@command(app, "show", render=render_pvc)
def show(pvc_id: str) -> PvcView:
    """A PVC's status, step, reason, model, voices and charge."""
    from provoice.pvc.service import get_pvc

    from provoice.pvc.lifecycle import reap
    from tasks.flow_runs import ended_flow_runs

    catalog = open_catalog()
    pvc = get_pvc(catalog, pvc_id, local_account(catalog))
    if pvc.status in ("queued", "training"):
        reap(catalog, [pvc], ended_runs=ended_flow_runs)
    return pvc_view(catalog, get_pvc(catalog, pvc_id))


@command(app, "list", render=_render_pvcs)
def list_pvcs() -> list[PvcView]:
    """Every PVC of the account."""
    from provoice.pvc.service import list_pvcs as account_pvcs

    catalog = open_catalog()
    return pvc_views(catalog, account_pvcs(catalog, local_account(catalog)))


@command(app, "auto-retrain", render=render_pvc)
def auto_retrain(pvc_id: str,
                 on: bool = typer.Option(..., "--on/--off", help="retrain on new base models or not")) -> PvcView:
    """Retrain the PVC on each new base model (no credits); the new model is kept only if not worse."""
    from provoice.pvc.service import set_auto_retrain

    catalog = open_catalog()
    return pvc_view(catalog, set_auto_retrain(catalog, pvc_id, on, local_account(catalog)))


def _render_retrains(rows: list[RetrainView]) -> None:
    if not rows:
        out.print("this PVC has not been retrained on a new base model yet", markup=False)
    colours = {"promoted": "green", "kept": "yellow", "failed": "red"}
    for r in rows:
        out.print(f"{r.decided_at.isoformat()[:16].replace('T', ' ')}  base {r.base_model_id}: "
                  f"[{colours[r.decision]}]{r.decision}[/]")
        out.print(f"  {r.old_model_id} → {r.new_model_id or '—'}: {r.reason}", markup=False, soft_wrap=True)


@command(app, "retrains", render=_render_retrains)
def retrains(pvc_id: str) -> list[RetrainView]:
    """The PVC's retrain decisions, oldest first: promoted, kept or failed, and why."""
    from provoice.pvc.retrain import decisions
    from provoice.pvc.service import get_pvc

    catalog = open_catalog()
    get_pvc(catalog, pvc_id, local_account(catalog))
    return [RetrainView.of(r) for r in decisions(catalog, pvc_id)]
