"""`provoice pvc`: pro voice clones — create, consent, train, retry, show, list, auto-retrain, retrains."""

from pathlib import Path

import typer

from interfaces.cli.context import command_settings, local_account, open_catalog, run_flow
from interfaces.cli.output import command, out
from provoice.consent import consent_prompt_view, consent_result_view
from provoice.errors import ProVoiceError
from provoice.pvc.queries import pvc_view, pvc_views
from provoice.pvc.status import ACTIVE, PvcStatus
from provoice.views import ConsentPromptView, ConsentResultView, ConsentView, PvcView, RetrainView

app = typer.Typer(help="Pro voice clones: create, consent, train, retry, show, auto-retrain.", no_args_is_help=True)


def render_consent(c: ConsentView) -> None:
    colour = {"verified": "green", "invalidated": "red", "prompted": "yellow"}.get(c.status, "white")
    out.print(
        f"consent: [{colour}]{c.status}[/]" + (f" — {c.recordings} recording(s) submitted" if c.recordings else "")
    )
    if c.status == "verified":
        out.print(
            f"  verified {c.verified_at:%Y-%m-%d %H:%M} UTC for account {c.account_id} from "
            f"{c.recording_name!r} (sha256 {c.recording_sha256[:12]}…): word error rate {c.prompt_wer:.0%}, "
            f"speaker similarity {c.speaker_similarity:.2f}",
            markup=False,
        )
    if c.reason:
        out.print(f"  {c.reason}", markup=False, soft_wrap=True)
    if c.prompt:
        out.print(
            f"  open prompt ({c.attempts_left} attempt(s) left, expires {c.expires_at:%Y-%m-%d %H:%M} UTC): {c.prompt}",
            markup=False,
            soft_wrap=True,
        )


STATUS_COLOURS = {
    PvcStatus.COMPLETED: "green",
    PvcStatus.FAILED: "red",
    PvcStatus.TRAINING: "yellow",
    PvcStatus.QUEUED: "cyan",
}


def render_pvc(pvc: PvcView) -> None:
    colour = STATUS_COLOURS.get(pvc.status, "white")
    out.print(f"[bold]{pvc.name}[/] ({pvc.id}): [{colour}]{pvc.status}[/]" + (f" — {pvc.step}" if pvc.step else ""))
    if pvc.reason:
        out.print(f"reason: {pvc.reason}", markup=False)
    budget = ", ".join(f"{v:g} {k.removeprefix('max_')}" for k, v in pvc.budget.items() if v is not None)
    out.print(
        f"dataset {pvc.dataset_id}, base model {pvc.base_model_id}, attempts {pvc.attempts}"
        + (f", budget {budget}" if budget else "")
    )
    if pvc.model_id:
        out.print(f"model: {pvc.model_id}; charged {pvc.charged_credits:,.0f} credits")
    for v in pvc.voices:
        out.print(f"  voice {v.id} {v.name!r} from file {v.source_file_id}: preview {v.preview_uri}")
    render_consent(pvc.consent)
    last = pvc.latest_retrain
    out.print(
        f"auto-retrain {'on' if pvc.auto_retrain else 'off'}"
        + (f"; last retrain on {last.base_model_id}: {last.decision}" if last else ""),
        markup=False,
    )


def _render_pvcs(pvcs: list[PvcView]) -> None:
    for pvc in pvcs:
        render_pvc(pvc)


def _unless_completed(pvc: PvcView) -> int:
    return 0 if pvc.status == PvcStatus.COMPLETED else 1


@command(app, "create", render=render_pvc)
def create(
    dataset: str = typer.Option(..., "--dataset"),
    name: str = typer.Option(..., "--name"),
    base_model: str | None = typer.Option(None, "--base-model", help="default: the latest"),
    speaker: str | None = typer.Option(
        None, "--speaker", help="whose voice it is (default: --name); the consent prompt names them"
    ),
    language: str = typer.Option("en", "--language"),
    description: str = typer.Option("", "--description"),
    webhook: str | None = typer.Option(None, "--webhook", help="URL told when it completes or fails"),
    auto_retrain: bool = typer.Option(
        False, "--auto-retrain", help="retrain on each new base model; kept only if not worse"
    ),
) -> PvcView:
    """Create a PVC (status draft) from a dataset and a base model."""
    from provoice.pvc.service import create_pvc
    from provoice.voice_models import BaseModelRegistry

    settings = command_settings()
    catalog = open_catalog(settings)
    base = BaseModelRegistry(settings, catalog).get(base_model or "latest")
    pvc = create_pvc(
        catalog,
        local_account(catalog),
        dataset,
        name,
        base.id,
        language=language,
        description=description,
        webhook_url=webhook,
        auto_retrain=auto_retrain,
        speaker_name=speaker,
        settings=settings,
    )
    return pvc_view(catalog, pvc)


def _render_prompt(p: ConsentPromptView) -> None:
    out.print(
        "Have the speaker read this aloud, then submit the recording with "
        f"`provoice pvc consent {p.pvc_id} RECORDING`:",
        markup=False,
    )
    out.print(f"\n  {p.prompt}\n", markup=False, soft_wrap=True)
    out.print(f"expires {p.expires_at:%Y-%m-%d %H:%M} UTC; {p.attempts_left} attempt(s)", markup=False)


@command(app, "consent-prompt", render=_render_prompt)
def consent_prompt(pvc_id: str) -> ConsentPromptView:
    """A consent prompt for the PVC's speaker to read aloud (replaces any open one)."""
    from provoice.consent import new_prompt

    settings = command_settings()
    catalog = open_catalog(settings)
    return consent_prompt_view(new_prompt(catalog, settings, pvc_id, local_account(catalog)))


def _render_result(r: ConsentResultView) -> None:
    if r.verified:
        out.print("[green]consent verified[/]: the PVC can be trained now")
    else:
        out.print(f"[red]not verified[/]: {r.reason}", soft_wrap=True)
    figures = [
        f"word error rate {r.prompt_wer:.0%}" if r.prompt_wer is not None else None,
        f"speaker similarity {r.speaker_similarity:.2f}" if r.speaker_similarity is not None else None,
    ]
    if any(figures):
        out.print("; ".join(f for f in figures if f), markup=False)
    if r.transcript is not None:
        out.print(f"heard: {r.transcript}", markup=False, soft_wrap=True)
    if not r.verified:
        out.print(f"{r.attempts_left} attempt(s) left on this prompt", markup=False)


@command(app, "consent", render=_render_result, exit_code=lambda r: 0 if r.verified else 1)
def consent(
    pvc_id: str, recording: Path = typer.Argument(..., help="the speaker reading the prompt, any accepted audio format")
) -> ConsentResultView:
    """Submit the speaker's reading of the consent prompt; exits 1 when it is not verified (the reason
    is in the output). The recording is kept as the consent's record; the dataset is not changed."""
    from provoice.consent import submit_recording
    from provoice.errors import InvalidSource

    if not recording.is_file():
        raise InvalidSource(f"{recording} is not a file")
    settings = command_settings()
    catalog = open_catalog(settings)
    sub = submit_recording(catalog, settings, pvc_id, recording, recording.name, local_account(catalog))
    return consent_result_view(sub.attempt, sub.attempts_left)


def _run(pvc_id: str, retry: bool, max_steps: int | None, max_minutes: float | None) -> PvcView:
    from flows.pvc import pro_voice_clone
    from provoice.consent import require_consent
    from provoice.pvc.service import get_pvc

    settings = command_settings()
    catalog = open_catalog(settings)
    require_consent(catalog, settings, get_pvc(catalog, pvc_id, local_account(catalog)))
    try:
        run_flow(
            "retrying" if retry else "training",
            lambda: pro_voice_clone(pvc_id=pvc_id, max_steps=max_steps, max_minutes=max_minutes, retry=retry),
        )
    except ProVoiceError:
        if get_pvc(catalog, pvc_id).status != PvcStatus.FAILED:
            raise
    return pvc_view(catalog, get_pvc(catalog, pvc_id))


@command(app, "train", render=render_pvc, exit_code=_unless_completed)
def train(
    pvc_id: str,
    max_steps: int | None = typer.Option(None, "--max-steps"),
    max_minutes: float | None = typer.Option(None, "--max-minutes"),
) -> PvcView:
    """Run the PVC end to end and print it; exits 1 when it failed (the reason is in the output)."""
    return _run(pvc_id, False, max_steps, max_minutes)


@command(app, "retry", render=render_pvc, exit_code=_unless_completed)
def retry(
    pvc_id: str,
    max_steps: int | None = typer.Option(None, "--max-steps"),
    max_minutes: float | None = typer.Option(None, "--max-minutes"),
) -> PvcView:
    """Re-run a failed PVC: training resumes from its last checkpoint with what is left of its budget
    (give --max-steps / --max-minutes to change the budget); finished steps are not repeated."""
    return _run(pvc_id, True, max_steps, max_minutes)


@command(app, "show", render=render_pvc)
def show(pvc_id: str) -> PvcView:
    """A PVC's status, step, reason, model, voices, charge and consent."""
    from provoice.pvc.lifecycle import reap
    from provoice.pvc.service import get_pvc
    from tasks.flow_runs import ended_flow_runs

    settings = command_settings()
    catalog = open_catalog(settings)
    pvc = get_pvc(catalog, pvc_id, local_account(catalog))
    if pvc.status in ACTIVE:
        reap(catalog, [pvc], ended_runs=ended_flow_runs, notify=_notify_now(settings))
    return pvc_view(catalog, get_pvc(catalog, pvc_id))


def _notify_now(settings):
    """How `show` tells the owner of a PVC it found abandoned and failed: the notify task, against
    the configured Prefect API or the home's local server."""
    from deployments.local_server import prefect_api
    from tasks.notify import notifier

    def notify(notification, webhook_urls) -> None:
        with prefect_api(settings):
            notifier(settings)(notification, webhook_urls)

    return notify


@command(app, "list", render=_render_pvcs)
def list_pvcs() -> list[PvcView]:
    """Every PVC of the account."""
    from provoice.pvc.service import list_pvcs as account_pvcs

    catalog = open_catalog()
    return pvc_views(catalog, account_pvcs(catalog, local_account(catalog)))


@command(app, "auto-retrain", render=render_pvc)
def auto_retrain(
    pvc_id: str, on: bool = typer.Option(..., "--on/--off", help="retrain on new base models or not")
) -> PvcView:
    """Retrain the PVC on each new base model (no credits); the new model is kept only if not worse."""
    from provoice.pvc.service import set_auto_retrain

    catalog = open_catalog()
    return pvc_view(catalog, set_auto_retrain(catalog, pvc_id, on, local_account(catalog)))


def _render_retrains(rows: list[RetrainView]) -> None:
    if not rows:
        out.print("this PVC has not been retrained on a new base model yet", markup=False)
    colours = {"promoted": "green", "kept": "yellow", "failed": "red"}
    for r in rows:
        out.print(
            f"{r.decided_at.isoformat()[:16].replace('T', ' ')}  base {r.base_model_id}: "
            f"[{colours[r.decision]}]{r.decision}[/]"
        )
        out.print(f"  {r.old_model_id} → {r.new_model_id or '—'}: {r.reason}", markup=False, soft_wrap=True)


@command(app, "retrains", render=_render_retrains)
def retrains(pvc_id: str) -> list[RetrainView]:
    """The PVC's retrain decisions, oldest first: promoted, kept or failed, and why."""
    from provoice.pvc.retrain import decisions
    from provoice.pvc.service import get_pvc

    catalog = open_catalog()
    get_pvc(catalog, pvc_id, local_account(catalog))
    return [RetrainView.of(r) for r in decisions(catalog, pvc_id)]
