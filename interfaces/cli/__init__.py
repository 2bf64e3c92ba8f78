"""The `provoice` command line (typer): one module per command group; `output` is where every
command's `--json`, rendering and error handling live."""

from interfaces.console import quiet_prefect_console

quiet_prefect_console()

from interfaces.cli.main import app  # noqa: E402


def main() -> None:
    """The `provoice` command: `app`, then an exit that skips the interpreter's teardown.

    A command that ran a flow has Prefect, pydantic and SQLAlchemy loaded, and tearing their
    modules down took 0.5–0.7 s after the command was done (measured with `bench/cli_latency.py`). The
    exit handlers still run (Prefect drains its events and logs there) and the streams are flushed,
    so nothing a command wrote or sent is lost; only the garbage collection of a process about to
    end is skipped."""
    import atexit
    import os
    import sys

    try:
        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)


__all__ = ["app", "main"]
