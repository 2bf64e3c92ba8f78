"""What commands share: the settings, the catalog, the local account, whether Prefect is reachable,
and where a flow runs (here, or in the home's flow daemon)."""

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import typer

from deployments.local_server import prefect_api_configured
from provoice.catalog import Catalog
from provoice.settings import Settings

__all__ = [
    "DaemonFlow",
    "command_settings",
    "flow_daemon",
    "load_settings",
    "local_account",
    "open_catalog",
    "prefect_api_configured",
    "run_flow",
]


_settings: ContextVar[Settings] = ContextVar("provoice_settings")


def load_settings(ctx: typer.Context) -> None:
    """The `provoice` callback: the environment is read here, once per invocation, and nowhere else."""
    token = _settings.set(Settings())
    ctx.call_on_close(lambda: _settings.reset(token))


def command_settings() -> Settings:
    """The settings of the running command (`load_settings`), on its thread or its progress bar's."""
    return _settings.get()


def open_catalog(settings: Settings | None = None) -> Catalog:
    return Catalog(settings or command_settings())


def local_account(catalog: Catalog) -> str:
    """The local default account: the CLI acts as it when no API key is configured."""
    from provoice.accounts import default_account

    return default_account(catalog).id


@dataclass(frozen=True)
class DaemonFlow:
    """A flow the home's flow daemon can run for a command: the daemon's record, the flow's name and
    JSON arguments, and how its JSON result becomes the command's result."""

    daemon: Any
    name: str
    args: dict = field(default_factory=dict)
    parse: Callable[[Any], Any] = lambda result: result


def flow_daemon(settings: Settings):
    """The home's flow daemon to hand this command's flow to, or None: the command then runs the flow
    itself, and a daemon is started in the background for the next one (`deployments.flow_daemon`)."""
    from deployments.flow_daemon import FlowDaemon

    return FlowDaemon(settings).client()


def run_flow(label: str, fn, poll=None, heartbeats: bool = True, remote: DaemonFlow | None = None):
    """Run a flow-starting `fn` with a progress bar, against the configured Prefect API or the home's
    local server (started once and reused), never a throwaway one.

    With `remote` the flow runs in the home's flow daemon instead (same flow run, same result); a
    daemon that cannot be reached is replaced and the flow runs here.

    `heartbeats=False` is for flows of a few seconds (`deployments.local_server.without_flow_heartbeats`)."""
    from interfaces.cli.output import say, with_progress

    if remote is not None:
        from deployments.flow_daemon import FlowDaemon, FlowDaemonUnreachable

        daemon = FlowDaemon(command_settings())
        try:
            return remote.parse(
                with_progress(label, lambda: daemon.call(remote.daemon, remote.name, remote.args), poll)
            )
        except FlowDaemonUnreachable:
            daemon.start_in_background(replace=remote.daemon)
    import contextlib

    from deployments.local_server import prefect_api, without_flow_heartbeats

    quiet = contextlib.nullcontext() if heartbeats else without_flow_heartbeats()
    with prefect_api(command_settings(), say=say), quiet:
        return with_progress(label, fn, poll)
