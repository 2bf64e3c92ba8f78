"""The notify task through `.fn()`: every channel once, each retried by Prefect with backoff while
its failure is retryable; failures logged and reported, never raised."""

import logging
import socket
import time

import pytest
from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.blocks.system import Secret

from provoice.notify import Notification
from tasks.notify import deliver_with_retries, notify_task, webhook_attempt
from tests.http_receiver import receiver

pytestmark = pytest.mark.usefixtures("prefect_harness")

DONE = Notification(
    pvc_id="pvc_1",
    pvc_name="Narrator",
    status="completed",
    model_id="base/pvc_1",
    voice_ids=["voice_a", "voice_b", "voice_c", "voice_d"],
)
FAILED = Notification(pvc_id="pvc_1", pvc_name="Narrator", status="failed", reason="out of memory")


@pytest.fixture
def events(monkeypatch):
    emitted = []
    monkeypatch.setattr("tasks.events.emit", lambda *args: emitted.append(args))
    return emitted


@pytest.fixture
def blocks(monkeypatch):
    """Block.load answers from this dict, so no Prefect server is needed."""
    registry = {}

    def load(cls, name, **kwargs):
        if name not in registry:
            raise ValueError(f"Unable to find block document named {name}")
        return registry[name]

    monkeypatch.setattr(Block, "load", classmethod(load))
    return registry


def fast(settings, **fields):
    return settings.model_copy(update={"notify_backoff_s": 0.01, "webhook_allow_hosts": ["127.0.0.1"], **fields})


def webhook_block(url: str) -> CustomWebhookNotificationBlock:
    return CustomWebhookNotificationBlock(
        name="ops", url=url, allow_private_urls=True, json_data={"subject": "{{subject}}", "body": "{{body}}"}
    )


def test_each_webhook_once_and_an_event(settings, events):
    with receiver() as default, receiver() as own:
        summary = notify_task.fn(
            fast(settings, notify_webhook_url=default.url), DONE, webhook_urls=[own.url, default.url], block_names=[]
        )
    assert len(default.requests) == 1 and len(own.requests) == 1
    assert own.bodies[0]["voice_ids"] == list(DONE.voice_ids)
    assert (summary["delivered"], summary["failed"]) == (2, 0)
    assert events == [("provoice.pvc.completed", "pvc", "pvc_1", DONE.to_dict())]


def test_notification_blocks_by_name(settings, events, blocks):
    with receiver([500, 200]) as rec:
        blocks["custom-webhook/ops"] = webhook_block(rec.url)
        summary = notify_task.fn(
            fast(settings, notify_blocks=["custom-webhook/ops"]),
            FAILED,
            webhook_urls=[],
            block_names=["custom-webhook/ops"],
        )
    (delivery,) = summary["deliveries"]
    assert (delivery["channel"], delivery["target"], delivery["ok"], delivery["attempts"]) == (
        "block",
        "custom-webhook/ops",
        True,
        2,
    )
    assert delivery["error"].startswith("HTTPStatusError: Server error '500")
    assert rec.bodies[-1]["subject"] == "PVC 'Narrator' failed"
    assert "Reason: out of memory" in rec.bodies[-1]["body"]
    assert events[0][0] == "provoice.pvc.failed"


def test_failures_are_logged_and_reported_never_raised(settings, events, blocks, caplog):
    blocks["secret/token"] = Secret(value="x")
    with receiver([500]) as broken, receiver() as ok:
        blocks["custom-webhook/broken"] = webhook_block(broken.url)
        with caplog.at_level(logging.WARNING, logger="tasks.notify"):
            summary = notify_task.fn(
                fast(settings),
                DONE,
                webhook_urls=[broken.url, ok.url],
                block_names=["custom-webhook/missing", "secret/token", "custom-webhook/broken"],
            )
    assert len(broken.requests) == 3 + 3 and len(ok.requests) == 1
    assert (summary["delivered"], summary["failed"]) == (1, 4)
    by_target = {d["target"]: d for d in summary["deliveries"]}
    assert by_target[f"http://127.0.0.1:{broken.port}/…"]["error"] == "HTTP 500 Internal Server Error"
    assert "Unable to find block document" in by_target["custom-webhook/missing"]["error"]
    assert "not a notification block" in by_target["secret/token"]["error"]
    assert by_target["custom-webhook/broken"]["attempts"] == 3
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and r.name == "tasks.notify"]
    assert len(errors) == 4 and all("could not notify" in m for m in errors)
    assert events and events[0][0] == "provoice.pvc.completed"
    assert not any("secret-token" in r.getMessage() for r in caplog.records), "webhook paths stay out of logs"


def test_an_unexpected_error_is_contained(settings, events):
    summary = notify_task.fn(settings, DONE, webhook_urls=None, block_names=[])
    assert summary["failed"] == 1 and "TypeError" in summary["deliveries"][0]["error"]
    assert events and events[0][0] == "provoice.pvc.completed"


def send_webhook(url, notification, attempts=3, backoff_s=2.0, timeout_s=10.0):
    return deliver_with_retries(
        "webhook", url, webhook_attempt(url, notification, timeout_s, ["127.0.0.1"]), attempts, backoff_s
    )


def test_server_errors_are_retried_with_backoff_until_delivered():
    with receiver([500, 500, 200]) as rec:
        start = time.monotonic()
        result = send_webhook(rec.url, DONE, attempts=3, backoff_s=0.05)
        elapsed = time.monotonic() - start
    assert result.ok and result.attempts == 3 and len(rec.requests) == 3
    assert result.errors == ("HTTP 500 Internal Server Error",) * 2
    assert elapsed >= 0.05 + 0.1
    assert rec.bodies[0] == rec.bodies[2]


def test_a_receiver_that_always_fails_is_reported_not_raised():
    with receiver([500]) as rec:
        result = send_webhook(rec.url, DONE, attempts=3, backoff_s=0.01)
    assert not result.ok and result.attempts == 3 and len(rec.requests) == 3
    assert result.status_code == 500 and result.last_error == "HTTP 500 Internal Server Error"


def test_client_errors_are_not_retried():
    with receiver([404]) as rec:
        result = send_webhook(rec.url, DONE, attempts=3, backoff_s=0.01)
    assert (result.ok, result.attempts, len(rec.requests)) == (False, 1, 1)


def test_rate_limits_and_timeouts_are_retried():
    with receiver([429, 200]) as rec:
        assert send_webhook(rec.url, DONE, attempts=3, backoff_s=0.01).attempts == 2
    with receiver([200], delay_s=0.5) as rec:
        result = send_webhook(rec.url, DONE, attempts=2, backoff_s=0.01, timeout_s=0.1)
    assert not result.ok and result.attempts == 2 and "Timeout" in result.last_error


def test_unreachable_and_malformed_urls_never_raise():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = send_webhook(f"http://127.0.0.1:{port}/hook", DONE, attempts=2, backoff_s=0.01)
    assert not result.ok and result.attempts == 2 and "ConnectError" in result.last_error
    result = send_webhook("not a url", DONE, attempts=3, backoff_s=0.01)
    assert not result.ok and result.attempts == 1 and "webhook URL must be http:// or https://" in result.last_error
