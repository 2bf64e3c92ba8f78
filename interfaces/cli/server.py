"""`provoice server`: the home's local Prefect server that commands share, and the flow daemon that
runs `provoice dataset` flows (see `deployments.local_server` and `deployments.flow_daemon`)."""

import typer

from interfaces.cli.context import command_settings
from interfaces.cli.output import command, out, say
from provoice.views import LocalServerView

app = typer.Typer(
    help="The local Prefect server and flow daemon that commands share: status, stop.", no_args_is_help=True
)


def _render(view: LocalServerView) -> None:
    if view.running:
        out.print(
            f"local Prefect server running (pid {view.pid}): UI {view.ui_url}, API {view.api_url}",
            markup=False,
            highlight=False,
        )
        if view.flow_daemon_pid:
            out.print(f"flow daemon running (pid {view.flow_daemon_pid})", markup=False)
    elif view.stopped_pid or view.flow_daemon_pid:
        if view.stopped_pid:
            out.print(f"stopped the local Prefect server (pid {view.stopped_pid})", markup=False)
        if view.flow_daemon_pid:
            out.print(f"stopped the flow daemon (pid {view.flow_daemon_pid})", markup=False)
    else:
        out.print("no local Prefect server is running; the next command that needs one starts it", markup=False)


@command(app, "status", render=_render)
def status() -> LocalServerView:
    """Whether the local Prefect server runs, and where."""
    from deployments.flow_daemon import FlowDaemon
    from deployments.local_server import LocalServer

    settings = command_settings()
    rec, daemon = LocalServer(settings).running(), FlowDaemon(settings).running()
    return LocalServerView(
        running=rec is not None,
        pid=rec and rec.pid,
        api_url=rec and rec.api_url,
        ui_url=rec and rec.ui_url,
        flow_daemon_pid=daemon and daemon.pid,
    )


@command(app, "stop", render=_render)
def stop() -> LocalServerView:
    """Stop the local Prefect server and the flow daemon (the next command that needs them starts them again)."""
    from deployments.flow_daemon import FlowDaemon
    from deployments.local_server import LocalServer

    settings = command_settings()
    daemon = FlowDaemon(settings).stop(grace_s=5.0)
    rec = LocalServer(settings, say).stop()
    return LocalServerView(running=False, stopped_pid=rec and rec.pid, flow_daemon_pid=daemon and daemon.pid)
