"""What a finished (or retrained) PVC tells its owner, and delivery of it to a webhook: retried, and
never raising, because a notification that cannot be sent must not turn a finished PVC into a failed one."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx

NOTIFY_STATUSES = ("completed", "failed", "retrained")
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
        return {"event": self.event, **asdict(self), "voice_ids": list(self.voice_ids),
                "text": self.body()}


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
        return {"channel": self.channel, "target": self.target, "ok": self.ok,
                "attempts": self.attempts, "status_code": self.status_code, "error": self.last_error}


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


def retry_delay(backoff_s: float, attempt: int) -> float:
    """Seconds to wait before `attempt` (1-based): 0, backoff_s, 2×backoff_s, 4×backoff_s, …"""
    return 0.0 if attempt <= 1 else backoff_s * 2 ** (attempt - 2)


def _retryable(status_code: int) -> bool:
    return status_code >= 500 or status_code in (408, 429)


def send_webhook(url: str, notification: Notification, attempts: int = 3, backoff_s: float = 2.0,
                 timeout_s: float = 10.0) -> DeliveryResult:
    """POST the notification as JSON. Connection errors, timeouts, 5xx, 408 and 429 are retried
    after backoff_s, 2×backoff_s, …; other 4xx and malformed URLs are not. Never raises."""
    errors: list[str] = []
    status_code = None
    target = display_url(url)
    headers = {"user-agent": USER_AGENT, "x-provoice-event": notification.event}
    tried = 0
    with httpx.Client(timeout=timeout_s, headers=headers) as client:
        for tried in range(1, max(1, attempts) + 1):
            time.sleep(retry_delay(backoff_s, tried))
            try:
                response = client.post(url, json=notification.to_dict())
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                errors.append(f"invalid webhook URL: {exc}")
                break
            except httpx.TransportError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            except Exception as exc:  # anything else is reported, never raised
                errors.append(f"{type(exc).__name__}: {exc}")
                break
            status_code = response.status_code
            if response.is_success:
                return DeliveryResult("webhook", target, True, tried, status_code, tuple(errors))
            errors.append(f"HTTP {status_code} {response.reason_phrase}".rstrip())
            if not _retryable(status_code):
                break
    return DeliveryResult("webhook", target, False, tried, status_code, tuple(errors))
