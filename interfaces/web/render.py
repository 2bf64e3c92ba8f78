"""Server-side rendering of the Playground: one Jinja2 environment with the filters its pages
share, and the page response itself."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from provoice.credits import format_credits
from provoice.dataset.outputs import format_seconds
from provoice.pvc.status import STARTABLE, PvcStatus
from provoice.settings import ACCEPTED_FORMATS

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")  # the catalog's datetimes are UTC (catalog.types)


def _duration(seconds: float | None) -> str:
    return "—" if seconds is None else format_seconds(seconds)


def _minutes_left(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{int(seconds)} s left"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s left"


def _number(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


templates.env.filters.update(credits=format_credits, when=_when, duration=_duration, left=_minutes_left, number=_number)
templates.env.globals.update(accepted_formats=ACCEPTED_FORMATS, PvcStatus=PvcStatus, STARTABLE=STARTABLE)


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page (or a fragment) rendered for the signed-in visitor in `context["me"]`, if any."""
    return templates.TemplateResponse(
        request, name, {"me": None, **context}, status_code=status_code, headers={"Cache-Control": "no-store"}
    )
