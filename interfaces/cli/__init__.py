"""The `provoice` command line (typer): one module per command group; `output` is where every
command's `--json`, rendering and error handling live."""

from interfaces.cli.main import app

__all__ = ["app"]
