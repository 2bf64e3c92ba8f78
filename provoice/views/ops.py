"""What operators see: the catalog's schema revision and the home's local Prefect server."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CatalogRevision(BaseModel):
    database: str
    revision: str


class LocalServerView(BaseModel):
    """The home's local Prefect server."""

    running: bool
    pid: int | None = None
    api_url: str | None = None
    ui_url: str | None = None
    stopped_pid: int | None = None
    flow_daemon_pid: int | None = Field(
        default=None, description="the flow daemon that runs `provoice dataset` flows (running, or just stopped)"
    )
