"""Notify step: tell every configured channel that a PVC completed or failed, and emit the Prefect
event automations react to. Each channel is one `deliver` task run, retried by Prefect with
exponential backoff while its failure is retryable. Nothing here can fail the flow: each failure
is logged and reported."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from prefect import get_run_logger, task
from prefect.blocks.core import Block
from prefect.blocks.notifications import NotificationBlock
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.tasks import exponential_backoff

from provoice.notify import DeliveryFailed, DeliveryResult, Notification, display_url, post_webhook, scrub_urls
from provoice.pvc.transitions import Notify
from provoice.settings import Settings
from tasks import events


def _logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


class _Attempts:
    """What each attempt of one delivery ran into (shared with its task run, which runs in-process)."""

    def __init__(self) -> None:
        self.count = 0
        self.errors: list[str] = []
        self.status_code: int | None = None


def _retry_if_retryable(task, task_run, state) -> bool:
    try:
        state.result()
    except DeliveryFailed as exc:
        return exc.retryable
    except BaseException:
        return False
    return False


@task(name="deliver", cache_policy=NO_CACHE, retry_condition_fn=_retry_if_retryable)
def deliver(attempt: Callable[[], int | None], attempts: _Attempts) -> int | None:
    """One attempt at one channel; raises DeliveryFailed, which Prefect retries when retryable."""
    attempts.count += 1
    try:
        code = attempt()
    except DeliveryFailed as exc:
        attempts.errors.append(str(exc))
        attempts.status_code = exc.status_code
        raise
    attempts.status_code = code
    return code


def deliver_with_retries(
    channel: str, target: str, attempt: Callable[[], int | None], tries: int, backoff_s: float
) -> DeliveryResult:
    """Up to `tries` attempts, waiting backoff_s, 2×backoff_s, … between them."""
    seen = _Attempts()
    retries = max(1, tries) - 1
    run = deliver.with_options(
        task_run_name=f"notify {channel} {target}",
        retries=retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=backoff_s)(retries) if retries else 0,
    )
    state = run(attempt, seen, return_state=True)
    return DeliveryResult(channel, target, state.is_completed(), seen.count, seen.status_code, tuple(seen.errors))


def webhook_attempt(
    url: str, notification: Notification, timeout_s: float, allow_hosts: Iterable[str] = ()
) -> Callable[[], int]:
    return lambda: post_webhook(url, notification, timeout_s, tuple(allow_hosts))


def block_attempt(name: str, notification: Notification) -> Callable[[], None]:
    """Send through a Prefect notification block ("slack-webhook/ops"); a missing block is not retried."""

    def attempt() -> None:
        try:
            block = Block.load(name)
        except Exception as exc:
            raise DeliveryFailed(f"cannot load block: {type(exc).__name__}: {exc}", retryable=False) from None
        if not isinstance(block, NotificationBlock):
            raise DeliveryFailed(f"{type(block).__name__} is not a notification block", retryable=False)
        try:
            with block.raise_on_failure():
                block.notify(notification.body(), notification.subject())
        except Exception as exc:
            raise DeliveryFailed(scrub_urls(f"{type(exc).__name__}: {exc}"), retryable=True) from None

    return attempt


@task(name="notify", cache_policy=NO_CACHE)
def notify_task(
    settings: Settings, notification: Notification, webhook_urls: Iterable[str] = (), block_names: Iterable[str] = ()
) -> dict:
    """Deliver to the settings' webhook and blocks plus the PVC's own, each once; returns a summary."""
    logger = _logger()
    try:
        deliveries = _deliver(settings, notification, webhook_urls, block_names)
    except Exception as exc:  # a bug in notifying must not fail a PVC whose outcome is already decided
        logger.exception("notifying about PVC %s failed", notification.pvc_id)
        deliveries = [DeliveryResult("internal", "notify", False, 0, errors=(f"{type(exc).__name__}: {exc}",))]
    for d in deliveries:
        for attempt, error in enumerate(d.errors, start=1):
            logger.warning(
                "notification of PVC %s via %s %s, attempt %d: %s",
                notification.pvc_id,
                d.channel,
                d.target,
                attempt,
                error,
            )
        if not d.ok:
            logger.error(
                "could not notify %s %s about PVC %s after %d attempt(s): %s",
                d.channel,
                d.target,
                notification.pvc_id,
                d.attempts,
                d.last_error,
            )
    events.emit(notification.event, "pvc", notification.pvc_id, notification.to_dict())
    delivered = sum(d.ok for d in deliveries)
    return {
        "event": notification.event,
        "delivered": delivered,
        "failed": len(deliveries) - delivered,
        "deliveries": [d.to_dict() for d in deliveries],
    }


def notifier(settings: Settings) -> Notify:
    """How a PVC's transitions tell its owner from a flow: this task, with the PVC's own webhooks and
    the settings' channels."""
    return lambda notification, webhook_urls: notify_task(settings, notification, webhook_urls, settings.notify_blocks)


def _deliver(
    settings: Settings, notification: Notification, webhook_urls: Iterable[str], block_names: Iterable[str]
) -> list[DeliveryResult]:
    deliveries = []
    for url in _unique([settings.notify_webhook_url, *webhook_urls]):
        deliveries.append(
            deliver_with_retries(
                "webhook",
                display_url(url),
                webhook_attempt(url, notification, settings.notify_timeout_s, settings.webhook_allow_hosts),
                settings.notify_attempts,
                settings.notify_backoff_s,
            )
        )
    for name in _unique([*settings.notify_blocks, *block_names]):
        deliveries.append(
            deliver_with_retries(
                "block", name, block_attempt(name, notification), settings.notify_attempts, settings.notify_backoff_s
            )
        )
    return deliveries
