"""The `provoice` command: one group per kind of thing, plus `tts`, `api` and `serve`."""

import typer

from interfaces.cli import account, base_model, credits, dataset, model, ops, pvc, serve, server, tts, voices
from interfaces.cli.context import load_settings
from interfaces.cli.output import command

app = typer.Typer(
    help="ProVoice: professional voice cloning, self-hosted.", no_args_is_help=True, callback=load_settings
)
for group, name in (
    (dataset, "dataset"),
    (base_model, "base-model"),
    (model, "model"),
    (pvc, "pvc"),
    (voices, "voices"),
    (credits, "credits"),
    (account, "account"),
    (ops, "ops"),
    (server, "server"),
):
    app.add_typer(group.app, name=name)
command(app, "tts", render=tts.render)(tts.tts)
command(app, "api", json_flag=False)(serve.api)
command(app, "serve", json_flag=False)(serve.serve)
