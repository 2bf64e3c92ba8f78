"""`provoice voices`: My Voices."""

from pathlib import Path

import typer

from interfaces.cli.context import command_settings, local_account, open_catalog
from interfaces.cli.output import command, out, with_progress
from provoice.views import PiperExportView, VoiceView

app = typer.Typer(help="Your voices.", no_args_is_help=True)


def _render(rows: list[VoiceView]) -> None:
    for r in rows:
        out.print(f"{r.id}  {r.name}  model {r.model_id}  preview {r.preview_uri}", markup=False)


@command(app, "list", render=_render)
def list_voices() -> list[VoiceView]:
    """My Voices: every voice of the account."""
    from provoice.pvc.service import account_voices

    catalog = open_catalog()
    return [VoiceView.model_validate(v) for v in account_voices(catalog, local_account(catalog))]


def render_piper_export(e: PiperExportView) -> None:
    """An exported Piper voice: its files, its speakers (`-s N`) and how to try it."""
    speakers = f"{e.num_speakers} speakers" if e.num_speakers > 1 else "single speaker"
    out.print(f"Piper voice {e.name} ({speakers}, model {e.model_id})", markup=False)
    for speaker, sid in e.speaker_id_map.items() if e.num_speakers > 1 else ():
        out.print(f"  -s {sid}  {speaker}", markup=False)
    for path in (e.onnx_path, e.config_path, e.card_path):
        out.print(f"  {path}", markup=False)
    out.print(f"try it: piper -m {e.onnx_path} -f hello.wav -- 'Hello.'", markup=False)


@command(app, "export", render=render_piper_export)
def export(
    voice_id: str, dest: str = typer.Argument(..., help="local folder to write the voice into")
) -> PiperExportView:
    """Write a voice as a standard Piper voice (.onnx, .onnx.json and a model card) that any Piper host speaks."""
    from provoice.voice_models import export_piper_voice

    settings = command_settings()
    catalog = open_catalog(settings)
    made = with_progress(
        "exporting",
        lambda: export_piper_voice(settings, catalog, voice_id, Path(dest).expanduser(), local_account(catalog)),
    )
    return PiperExportView.model_validate(made)
