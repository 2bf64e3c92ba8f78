"""`provoice api` and `provoice serve`: the HTTP API alone, or the API with every deployment."""

import typer

from interfaces.cli.context import command_settings
from interfaces.cli.output import say


def api(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port")) -> None:
    """Serve the HTTP API and the Playground with uvicorn; OpenAPI docs at /docs."""
    import uvicorn

    from interfaces.api import create_app

    say(
        f"ProVoice Playground: http://{host}:{port}/ (sign in with a key from `provoice account create-key`) "
        f"· API docs: http://{host}:{port}/docs"
    )

    uvicorn.run(create_app(command_settings()), host=host, port=port)


def serve(
    api_host: str = typer.Option("127.0.0.1", "--api-host"),
    api_port: int = typer.Option(8000, "--api-port"),
    no_api: bool = typer.Option(False, "--no-api", help="serve the deployments only"),
) -> None:
    """Serve the HTTP API and every deployment (schedules, triggers) until Ctrl-C.

    Uses the Prefect server at PREFECT_API_URL, or the home's local server (started if needed and
    left running for other commands; `provoice server stop` stops it).
    """
    from deployments.stack import run_stack

    code = run_stack(command_settings(), api_host, None if no_api else api_port, say=say)
    raise typer.Exit(code)
