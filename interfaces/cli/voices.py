"""`provoice voices`: My Voices."""

import typer

from interfaces.cli.context import local_account, open_catalog
from interfaces.cli.output import command, out
from provoice.views import VoiceView

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
