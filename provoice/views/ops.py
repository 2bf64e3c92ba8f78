"""What operators see: the catalog's schema revision and the home's background processes (its local
Prefect server and flow daemon)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CatalogRevision(BaseModel):
    database: str
    revision: str


class BackgroundProcessView(BaseModel):
    """A background process of the home and what it holds, sampled when asked."""

    running: bool
    pid: int | None = None
    rss_bytes: int | None = Field(default=None, description="resident memory of the process and its children")
    cpu_percent: float | None = Field(default=None, description="percent of one core over a short sample")
    nice: int | None = Field(default=None, description="its CPU priority (higher gives way sooner)")
    uptime_s: float | None = None
    idle_s: float | None = Field(default=None, description="since a command, client or flow run last used it")
    stops_in_s: float | None = Field(default=None, description="when it stops by itself unless used before")
    models_loaded: list[str] = Field(default_factory=list, description="loaders whose models it holds")
    releases_models_in_s: float | None = Field(default=None, description="when it gives its models back")


class LocalServerView(BaseModel):
    """The home's local Prefect server and flow daemon."""

    running: bool
    pid: int | None = None
    api_url: str | None = None
    ui_url: str | None = None
    stopped_pid: int | None = None
    flow_daemon_pid: int | None = Field(
        default=None, description="the flow daemon that runs `provoice dataset` flows (running, or just stopped)"
    )
    server: BackgroundProcessView | None = None
    flow_daemon: BackgroundProcessView | None = None
