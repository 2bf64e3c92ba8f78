"""`provoice base-model`: import, register, list and pin base models."""

from pathlib import Path

import typer
from rich.table import Table

from interfaces.cli.context import command_settings, prefect_api_configured
from interfaces.cli.output import command, out, with_progress
from provoice.views import BaseModelRow, RegisteredBaseModel

app = typer.Typer(help="Import, list and pin base models.", no_args_is_help=True)


def _registered(info) -> RegisteredBaseModel:
    """Announce a registration (a Prefect event when it is new) and describe it."""
    if info.newly_registered and prefect_api_configured():
        from provoice.events import BASE_MODEL_REGISTERED
        from tasks.events import emit

        emit(
            BASE_MODEL_REGISTERED,
            "base-model",
            info.id,
            {"source": info.source, "kind": info.kind, "sample_rate": info.sample_rate, "uri": info.uri},
        )
    return RegisteredBaseModel.of(info)


def _render_registered(info: RegisteredBaseModel) -> None:
    verb = "registered" if info.created else "already registered:"
    out.print(f"{verb} base model [bold]{info.id}[/] ({info.source}, {info.sample_rate} Hz)")
    gap = info.distillation
    if gap:
        out.print(
            f"posterior encoder distilled in {gap['steps']} steps ({gap['seconds']} s): decode gap "
            f"{gap['gap_before']} -> {gap['gap_after']} mel-L1 (held out {gap['held_out_gap_before']} -> "
            f"{gap['held_out_gap_after']})"
        )


@command(app, "import-piper-onnx", render=_render_registered)
def import_piper_onnx(
    src: str = typer.Argument(..., help="path to a Piper .onnx (its .onnx.json beside it) or en_US-joe-medium"),
    model_id: str | None = typer.Option(None, "--id", help="default: piper-<voice>-v1"),
    steps: int = typer.Option(
        200, "--steps", min=0, help="posterior-encoder distillation steps (fewer than about 30 do not converge)"
    ),
) -> RegisteredBaseModel:
    """Import a Piper ONNX voice as a base model, recovering its training-only posterior encoder."""
    from provoice.voice_models import BaseModelRegistry

    registry = BaseModelRegistry(command_settings())
    state = {"done": 0, "total": steps}

    def on_step(done: int, total: int) -> None:
        state.update(done=done, total=total)

    info = with_progress(
        "distilling posterior encoder",
        lambda: registry.import_piper_onnx(src, model_id=model_id, steps=steps, on_step=on_step),
        lambda: (state["done"], state["total"]),
    )
    return _registered(info)


@command(app, "import-piper-ckpt", render=_render_registered)
def import_piper_ckpt(
    path: Path = typer.Argument(..., help="Piper Lightning checkpoint (.ckpt)"),
    model_id: str | None = typer.Option(None, "--id", help="default: piper-ckpt-<file stem>-v1"),
    voice_config: Path | None = typer.Option(None, "--voice-config", help="Piper voice JSON with the phoneme map"),
    espeak_voice: str = typer.Option("en-us", "--espeak-voice"),
    trusted: bool = typer.Option(False, "--trusted", help="allow pickled Python objects (only for trusted files)"),
) -> RegisteredBaseModel:
    """Register a Piper training checkpoint (generator and discriminator) as a base model."""
    from provoice.voice_models import BaseModelRegistry

    return _registered(
        BaseModelRegistry(command_settings()).load_piper_ckpt(
            path, model_id=model_id, voice_config=voice_config, espeak_voice=espeak_voice, trusted=trusted
        )
    )


@command(app, "create-random", render=_render_registered)
def create_random(
    model_id: str = typer.Option(..., "--id"),
    tiny: bool = typer.Option(True, "--tiny/--medium", help="tiny test-sized model or Piper medium"),
    seed: int = typer.Option(0, "--seed"),
) -> RegisteredBaseModel:
    """Register a randomly initialised base model (for tests and smoke runs)."""
    from provoice.voice_models import BaseModelRegistry

    return _registered(BaseModelRegistry(command_settings()).create_random(model_id, tiny=tiny, seed=seed))


def _render_rows(rows: list[BaseModelRow]) -> None:
    table = Table(title="base models")
    for col in ("id", "latest", "source", "sample_rate", "created_at"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r.id, "yes" if r.latest else "", r.source, str(r.sample_rate), r.created_at.isoformat())
    out.print(table)


@command(app, "list", render=_render_rows)
def list_base_models() -> list[BaseModelRow]:
    """List base models; `latest` is the pinned one, else the newest."""
    from provoice.voice_models import BaseModelRegistry

    return [BaseModelRow.of(m) for m in BaseModelRegistry(command_settings()).list()]


def _render_latest(row: BaseModelRow) -> None:
    out.print(f"latest base model: [bold]{row.id}[/]" + (" (pinned)" if row.pinned else ""))


@command(app, "pin", render=_render_latest)
def pin(model_id: str | None = typer.Argument(None, help="omit to unpin: the newest is latest")) -> BaseModelRow:
    """Pin a base model as `latest` regardless of age."""
    from provoice.voice_models import BaseModelRegistry

    registry = BaseModelRegistry(command_settings())
    registry.pin(model_id)
    return BaseModelRow.of(registry.latest())
