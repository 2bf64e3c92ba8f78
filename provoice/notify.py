"""What a finished (or retrained) PVC tells its owner, and one attempt to deliver it to a webhook.

A notification that cannot be sent must never turn a finished PVC into a failed one: the notify
task retries retryable failures with backoff and reports, never raises, what finally happened."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx

from provoice.outbound import DestinationRefused, check_destination
from provoice.pvc.status import PvcStatus

RETRAINED = "retrained"  # a completed PVC moved to its model on a newer base model
NOTIFY_STATUSES = (PvcStatus.COMPLETED, PvcStatus.FAILED, RETRAINED)
USER_AGENT = "ProVoice-Notifications"


@dataclass(frozen=True)
class Notification:
    pvc_id: str
    pvc_name: str
    status: str
    model_id: str | None = None
    voice_ids: tuple[str, ...] = ()
    reason: str | None = None
    url: str | None = None
    previous_model_id: str | None = None

    def __post_init__(self) -> None:
        if self.status not in NOTIFY_STATUSES:
            raise ValueError(f"notifications are sent for {NOTIFY_STATUSES}, not {self.status!r}")
        object.__setattr__(self, "voice_ids", tuple(self.voice_ids))

    @property
    def event(self) -> str:
        """The Prefect event name automations match on."""
        return f"provoice.pvc.{self.status}"

    def subject(self) -> str:
        return f"PVC {self.pvc_name!r} {self.status}"

    def body(self) -> str:
        lines = [f"{self.subject()} ({self.pvc_id})."]
        if self.model_id:
            lines.append(f"Model: {self.model_id}")
        if self.previous_model_id:
            lines.append(f"Previous model: {self.previous_model_id} (its voices keep working with it)")
        if self.voice_ids:
            lines.append(f"Voices: {', '.join(self.voice_ids)}")
        if self.reason:
            lines.append(f"Reason: {self.reason}")
        if self.url:
            lines.append(self.url)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The webhook body; `text` lets Slack- and Teams-style incoming webhooks show it as is."""
        return {"event": self.event, **asdict(self), "voice_ids": list(self.voice_ids), "text": self.body()}


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    target: str
    ok: bool
    attempts: int
    status_code: int | None = None
    errors: tuple[str, ...] = field(default=())

    @property
    def last_error(self) -> str | None:
        return self.errors[-1] if self.errors else None

    def to_dict(self) -> dict:
        return {
            "channel": self.channel,
            "target": self.target,
            "ok": self.ok,
            "attempts": self.attempts,
            "status_code": self.status_code,
            "error": self.last_error,
        }


def display_url(url: str) -> str:
    """Scheme, host and port only: webhook paths and queries often hold the secret token."""
    try:
        parts = urlsplit(url)
        host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    except ValueError:
        return "<invalid url>"
    if not parts.scheme or not host:
        return "<invalid url>"
    hidden = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{hidden}"


_URL = re.compile(r"https?://[^\s'\"<>]+")


def scrub_urls(text: str) -> str:
    """`text` with every URL cut to what `display_url` shows (errors from delivery libraries quote the
    URL they failed on, secret path and all)."""
    return _URL.sub(lambda m: display_url(m.group(0)), text)


class DeliveryFailed(Exception):
    """One delivery attempt failed; `retryable` says whether another attempt could succeed."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


def _retryable(status_code: int) -> bool:
    return status_code >= 500 or status_code in (408, 429)


def post_webhook(url: str, notification: Notification, timeout_s: float = 10.0, allow_hosts: Sequence[str] = ()) -> int:
    """POST the notification as JSON once; the status code, or DeliveryFailed. Connection errors,
    timeouts, 5xx, 408 and 429 are retryable; other 4xx, malformed URLs and refused destinations
    are not. Retries are the caller's (the notify task retries with exponential backoff).

    The destination is checked after resolving its name (`provoice.outbound`), and the request
    goes to the checked address with the URL's host name in `Host` and TLS SNI; redirects are not
    followed."""
    headers = {"user-agent": USER_AGENT, "x-provoice-event": notification.event}
    try:
        where = check_destination(url, allow_hosts)
    except DestinationRefused as exc:
        raise DeliveryFailed(str(exc), retryable=False) from None
    target = httpx.URL(url)
    pinned = target.copy_with(host=where.address) if where.address != where.host else target
    headers["host"] = target.netloc.decode()
    extensions = {"sni_hostname": where.host} if where.scheme == "https" else {}
    try:
        with httpx.Client(timeout=timeout_s, headers=headers, follow_redirects=False) as client:
            response = client.post(pinned, json=notification.to_dict(), extensions=extensions)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise DeliveryFailed(f"invalid webhook URL: {exc}", retryable=False) from None
    except httpx.TransportError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}", retryable=True) from None
    except Exception as exc:  # anything else is reported, never raised as itself
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}", retryable=False) from None
    if not response.is_success:
        raise DeliveryFailed(
            f"HTTP {response.status_code} {response.reason_phrase}".rstrip(),
            retryable=_retryable(response.status_code),
            status_code=response.status_code,
        )
    return response.status_code
