"""Notify step: tell every configured channel that a PVC completed or failed, and emit the Prefect
event automations react to. Nothing here can fail the flow: each failure is logged and reported."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from prefect import get_run_logger, task
from prefect.blocks.core import Block
from prefect.blocks.notifications import NotificationBlock
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from tasks import events
from provoice.notify import DeliveryResult, Notification, retry_delay, send_webhook
from provoice.settings import Settings


def _logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def send_block(name: str, notification: Notification, attempts: int = 3, backoff_s: float = 2.0) -> DeliveryResult:
    """Send through a Prefect notification block ("slack-webhook/ops"); a missing block is not retried."""
    try:
        block = Block.load(name)
    except Exception as exc:
        return DeliveryResult("block", name, False, 1, errors=(f"cannot load block: {type(exc).__name__}: {exc}",))
    if not isinstance(block, NotificationBlock):
        return DeliveryResult("block", name, False, 1, errors=(f"{type(block).__name__} is not a notification block",))
    errors: list[str] = []
    for tried in range(1, max(1, attempts) + 1):
        time.sleep(retry_delay(backoff_s, tried))
        try:
            with block.raise_on_failure():
                block.notify(notification.body(), notification.subject())
            return DeliveryResult("block", name, True, tried, errors=tuple(errors))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    return DeliveryResult("block", name, False, len(errors), errors=tuple(errors))


@task(name="notify", cache_policy=NO_CACHE)
def notify_task(settings: Settings, notification: Notification, webhook_urls: Iterable[str] = (),
                block_names: Iterable[str] = ()) -> dict:
    """Deliver to the settings' webhook and blocks plus the PVC's own, each once; returns a summary."""
    logger = _logger()
    try:
        deliveries = _deliver(settings, notification, webhook_urls, block_names)
    except Exception as exc:  # a bug in notifying must not fail a PVC whose outcome is already decided
        logger.exception("notifying about PVC %s failed", notification.pvc_id)
        deliveries = [DeliveryResult("internal", "notify", False, 0, errors=(f"{type(exc).__name__}: {exc}",))]
    for d in deliveries:
        for attempt, error in enumerate(d.errors, start=1):
            logger.warning("notification of PVC %s via %s %s, attempt %d: %s",
                           notification.pvc_id, d.channel, d.target, attempt, error)
        if not d.ok:
            logger.error("could not notify %s %s about PVC %s after %d attempt(s): %s",
                         d.channel, d.target, notification.pvc_id, d.attempts, d.last_error)
    events.emit(notification.event, "pvc", notification.pvc_id, notification.to_dict())
    delivered = sum(d.ok for d in deliveries)
    return {"event": notification.event, "delivered": delivered, "failed": len(deliveries) - delivered,
            "deliveries": [d.to_dict() for d in deliveries]}


def _deliver(settings: Settings, notification: Notification, webhook_urls: Iterable[str],
             block_names: Iterable[str]) -> list[DeliveryResult]:
    deliveries = []
    for url in _unique([settings.notify_webhook_url, *webhook_urls]):
        deliveries.append(send_webhook(url, notification, attempts=settings.notify_attempts,
                                       backoff_s=settings.notify_backoff_s, timeout_s=settings.notify_timeout_s))
    for name in _unique([*settings.notify_blocks, *block_names]):
        deliveries.append(send_block(name, notification, settings.notify_attempts, settings.notify_backoff_s))
    return deliveries
