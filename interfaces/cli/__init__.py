"""The `provoice` command line (typer): one module per command group; `output` is where every
command's `--json`, rendering and error handling live."""

from interfaces.console import quiet_prefect_console

quiet_prefect_console()

from interfaces.cli.main import app  # noqa: E402


def main() -> None:
    """The `provoice` command."""
    app()


__all__ = ["app", "main"]
