"""How every command ends, in one place.

`command()` registers a function on a command group and adds `--json` to it. The function returns
what it made (a pydantic model, a list of them, or a plain dict); with `--json` that is printed as
exactly one JSON document on stdout, otherwise the command's renderer prints it for people. A
`ProVoiceError` becomes one line on stderr and exit code 1, never a traceback.
"""

import contextvars
import functools
import inspect
import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from provoice.errors import ProVoiceError
from provoice.extras import missing_extra

err = Console(stderr=True)
out = Console()

_json_output: contextvars.ContextVar[bool] = contextvars.ContextVar("json_output", default=False)


def json_output() -> bool:
    """Whether the running command prints JSON (so it draws no progress bars)."""
    return _json_output.get()


def say(message: str) -> None:
    """A line for people on stderr, verbatim."""
    err.print(message, markup=False, highlight=False, soft_wrap=True)


def fail(exc: ProVoiceError) -> None:
    say(f"error: {exc}")
    raise typer.Exit(1)


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), ensure_ascii=False, default=str) + "\n")


def command(
    group: typer.Typer,
    name: str,
    *,
    render: Callable[[Any], None] | None = None,
    exit_code: Callable[[Any], int] | None = None,
    json_flag: bool = True,
) -> Callable:
    """Register `fn` as `group`'s command `name` with error handling and, unless `json_flag` is
    False, a `--json` flag; `render(result)` prints the result for people, `exit_code(result)`
    turns a printed result into a non-zero exit (a PVC that failed)."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, as_json: bool = False, **kwargs):
            token = _json_output.set(as_json)
            try:
                result = fn(*args, **kwargs)
            except ProVoiceError as exc:
                fail(exc)
            except ModuleNotFoundError as exc:  # a train-only package a serving install lacks
                missing = missing_extra(exc)
                if missing is None:
                    raise
                fail(missing)
            finally:
                _json_output.reset(token)
            if result is not None:
                if as_json:
                    emit_json(result)
                elif render is not None:
                    render(result)
            code = exit_code(result) if exit_code is not None else 0
            if code:
                raise typer.Exit(code)

        signature = inspect.signature(fn)
        if json_flag:
            flag = inspect.Parameter(
                "as_json",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=bool,
                default=typer.Option(False, "--json", help="print one JSON document"),
            )
            run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), flag])
            run.__annotations__ = {**fn.__annotations__, "as_json": bool}
        else:
            run.__signature__ = signature
        group.command(name)(run)
        return fn

    return decorate


def with_progress(label: str, fn: Callable[[], Any], poll: Callable[[], tuple[int, int]] | None = None) -> Any:
    """Run `fn`, drawing a progress bar on stderr from `poll()` -> (done, total) unless the command
    prints JSON (the block runs in the caller's context: its Prefect settings included)."""
    if json_output():
        return fn()
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=contextvars.copy_context().run, args=(target,), daemon=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        worker.start()
        while worker.is_alive():
            if poll is not None:
                done, total = poll()
                if total:
                    bar.update(task, completed=done, total=total)
            worker.join(0.5)
    if "error" in box:
        raise box["error"]
    return box["value"]
