"""What commands share: the settings, the catalog, the local account and whether Prefect is reachable."""

from deployments.local_server import prefect_api_configured
from provoice.catalog import Catalog
from provoice.settings import Settings

__all__ = ["local_account", "open_catalog", "prefect_api_configured", "run_flow"]


def open_catalog(settings: Settings | None = None) -> Catalog:
    return Catalog(settings or Settings())


def local_account(catalog: Catalog) -> str:
    """The local default account: the CLI acts as it when no API key is configured."""
    from provoice.accounts import default_account

    return default_account(catalog).id


def run_flow(label: str, fn, poll=None):
    """Run a flow-starting `fn` with a progress bar, against the configured Prefect API or the home's
    local server (started once and reused), never a throwaway one."""
    from deployments.local_server import prefect_api
    from interfaces.cli.output import say, with_progress

    with prefect_api(say=say):
        return with_progress(label, fn, poll)
