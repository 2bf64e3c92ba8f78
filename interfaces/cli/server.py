"""`provoice server`: the home's local Prefect server that commands share (see
`deployments.local_server`)."""

import typer

from interfaces.cli.output import command, out, say
from provoice.settings import Settings
from provoice.views import LocalServerView

app = typer.Typer(help="The local Prefect server that commands share: status, stop.", no_args_is_help=True)


def _render(view: LocalServerView) -> None:
    if view.running:
        out.print(f"local Prefect server running (pid {view.pid}): UI {view.ui_url}, API {view.api_url}",
                  markup=False, highlight=False)
    elif view.stopped_pid:
        out.print(f"stopped the local Prefect server (pid {view.stopped_pid})", markup=False)
    else:
        out.print("no local Prefect server is running; the next command that needs one starts it", markup=False)


@command(app, "status", render=_render)
def status() -> LocalServerView:
    """Whether the local Prefect server runs, and where."""
    from deployments.local_server import LocalServer

    rec = LocalServer(Settings()).running()
    return LocalServerView(running=rec is not None, pid=rec and rec.pid, api_url=rec and rec.api_url,
                           ui_url=rec and rec.ui_url)


@command(app, "stop", render=_render)
def stop() -> LocalServerView:
    """Stop the local Prefect server (the next command that needs one starts it again)."""
    from deployments.local_server import LocalServer

    rec = LocalServer(Settings(), say).stop()
    return LocalServerView(running=False, stopped_pid=rec and rec.pid)
