"""Telling a PVC's owner from a request: a GET that finds a PVC's worker gone fails it (the reaper),
and the owner hears of it as from the `reap-pvcs` flow, without the request waiting for deliveries."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from provoice.notify import Notification
from provoice.pvc.transitions import Notify
from provoice.settings import Settings
from tasks.notify import notifier

log = logging.getLogger(__name__)


def notify_in_background(settings: Settings) -> Notify:
    """The notify task on a thread, against the configured Prefect API or the home's local server."""

    def notify(notification: Notification, webhook_urls: Sequence[str]) -> None:
        threading.Thread(
            target=_send,
            args=(settings, notification, list(webhook_urls)),
            name=f"notify-{notification.pvc_id}",
            daemon=True,
        ).start()

    return notify


def _send(settings: Settings, notification: Notification, webhook_urls: list[str]) -> None:
    from deployments.local_server import prefect_api

    try:
        with prefect_api(settings):
            notifier(settings)(notification, webhook_urls)
    except Exception:
        log.exception("could not notify the owner of PVC %s", notification.pvc_id)
