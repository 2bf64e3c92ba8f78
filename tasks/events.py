"""ProVoice events for Prefect automations; emitting never fails the work that emits them."""

from __future__ import annotations

import logging

from prefect.events import emit_event

from provoice.events import resource


def emit(
    event: str, resource_kind: str, resource_id: str, payload: dict | None = None, labels: dict[str, str] | None = None
) -> None:
    try:
        emit_event(event=event, resource=resource(resource_kind, resource_id, **(labels or {})), payload=payload or {})
    except Exception as exc:  # an unreachable event bus must not fail a preparation
        logging.getLogger(__name__).warning("could not emit %s: %s", event, exc)
