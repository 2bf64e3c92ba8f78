"""`provoice ops`: operate a Prefect server — migrate the catalog, work pools and limits, deployments."""

from pathlib import Path

import typer

from interfaces.cli.context import command_settings, prefect_api_configured
from interfaces.cli.output import command, out
from provoice.errors import ConfigurationError
from provoice.views import CatalogRevision

app = typer.Typer(help="Operate a Prefect server: work pools and limits.", no_args_is_help=True)


def _render_lines(lines: list[str]) -> None:
    for line in lines:
        out.print(line, markup=False, highlight=False)


def _render_revision(result: CatalogRevision) -> None:
    out.print(f"catalog at revision {result.revision}", markup=False, highlight=False)


@command(app, "migrate", render=_render_revision)
def migrate() -> CatalogRevision:
    """Bring the catalog schema to the newest migration (run once before starting API and workers)."""
    from provoice.catalog import migrate_catalog

    catalog = migrate_catalog(command_settings())
    return CatalogRevision(database=catalog.url, revision=catalog.revision())


@command(app, "setup", render=_render_lines)
def setup(
    gpu_pool_type: str = typer.Option(
        "kubernetes", "--gpu-pool-type", help="kubernetes (GPU nodes) or process (a GPU host, e.g. compose)"
    ),
    gpu_template: Path | None = typer.Option(
        None, "--gpu-template", help="base job template JSON for a kubernetes gpu pool"
    ),
) -> list[str]:
    """Create or update work pools `cpu` and `gpu` and the `gpu` concurrency limit on PREFECT_API_URL."""
    from deployments.setup import setup as set_up

    if gpu_pool_type not in ("kubernetes", "process"):
        raise ConfigurationError(f"--gpu-pool-type must be kubernetes or process, not {gpu_pool_type!r}")
    if not prefect_api_configured():
        raise ConfigurationError("set PREFECT_API_URL to the Prefect server to set up")
    return set_up(command_settings().gpu_concurrency, gpu_pool_type, gpu_template)


@command(app, "deploy", render=_render_lines)
def deploy() -> list[str]:
    """Register every deployment (schedules, triggers) on the work pools of PREFECT_API_URL."""
    from deployments.setup import deploy as register

    if not prefect_api_configured():
        raise ConfigurationError("set PREFECT_API_URL to the Prefect server to deploy to")
    return register()
