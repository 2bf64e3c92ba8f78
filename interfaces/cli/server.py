"""`provoice server`: the home's local Prefect server that commands share, and the flow daemon that
runs `provoice dataset` flows (see `deployments.local_server` and `deployments.flow_daemon`)."""

import typer

from interfaces.cli.context import command_settings
from interfaces.cli.output import command, out, say
from provoice.views import BackgroundProcessView, LocalServerView

app = typer.Typer(
    help="The local Prefect server and flow daemon that commands share: status, stop.", no_args_is_help=True
)


def _holds(p: BackgroundProcessView | None) -> str:
    """What a running background process holds and when it stops, in one clause."""
    if p is None or not p.running:
        return ""
    parts = [f"pid {p.pid}"]
    if p.rss_bytes is not None:
        parts.append(
            f"{p.rss_bytes / 2**20:.0f} MB, {p.cpu_percent:.1f} % CPU, nice {p.nice}, up {_duration(p.uptime_s)}"
        )
    if p.idle_s is not None:
        parts.append(f"idle {_duration(p.idle_s)}")
    if p.stops_in_s is not None:
        parts.append(f"stops in {_duration(p.stops_in_s)} unless used")
    if p.models_loaded:
        parts.append(f"models {', '.join(m.rsplit('.', 2)[-2] for m in p.models_loaded)}")
        if p.releases_models_in_s is not None:
            parts.append(f"released in {_duration(p.releases_models_in_s)}")
    return "; ".join(parts)


def _duration(seconds: float | None) -> str:
    s = round(seconds or 0)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


def _render(view: LocalServerView) -> None:
    if view.server is None:  # what `stop` did
        if view.stopped_pid:
            out.print(f"stopped the local Prefect server (pid {view.stopped_pid})", markup=False)
        if view.flow_daemon_pid:
            out.print(f"stopped the flow daemon (pid {view.flow_daemon_pid})", markup=False)
        if view.stopped_pid or view.flow_daemon_pid:
            return
    if view.running:
        out.print(f"local Prefect server: UI {view.ui_url}, API {view.api_url}", markup=False, highlight=False)
        out.print(f"  {_holds(view.server)}", markup=False, highlight=False)
    else:
        out.print("no local Prefect server is running; the next command that needs one starts it", markup=False)
    if view.flow_daemon and view.flow_daemon.running:
        out.print(f"flow daemon:\n  {_holds(view.flow_daemon)}", markup=False, highlight=False)


@command(app, "status", render=_render)
def status() -> LocalServerView:
    """Whether the local Prefect server and the flow daemon run, where, what they hold (memory, CPU over
    a second, models) and when they stop by themselves."""
    from deployments.background import sample_usage
    from deployments.flow_daemon import FlowDaemon
    from deployments.local_server import LocalServer

    settings = command_settings()
    server, daemon = LocalServer(settings), FlowDaemon(settings)
    rec, daemon_rec = server.running(), daemon.running()
    usage = sample_usage(r.pid for r in (rec, daemon_rec) if r is not None)
    return LocalServerView(
        running=rec is not None,
        pid=rec and rec.pid,
        api_url=rec and rec.api_url,
        ui_url=rec and rec.ui_url,
        flow_daemon_pid=daemon_rec and daemon_rec.pid,
        server=server.view(rec, usage),
        flow_daemon=daemon.view(daemon_rec, usage),
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
