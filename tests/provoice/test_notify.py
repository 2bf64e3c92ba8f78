"""Webhook delivery against a real HTTP receiver on 127.0.0.1, including receivers that fail."""

import socket
import time

import pytest

from provoice.notify import Notification, display_url, retry_delay, send_webhook
from tests.http_receiver import receiver

DONE = Notification(pvc_id="pvc_1", pvc_name="Narrator", status="completed", model_id="base/pvc_1",
                    voice_ids=["voice_a", "voice_b"])
FAILED = Notification(pvc_id="pvc_2", pvc_name="Narrator", status="failed",
                      reason="needs ≥ 3 h of accepted speech, has 1 h 12 min")


def test_delivers_json_with_everything_a_user_needs():
    with receiver() as rec:
        result = send_webhook(rec.url, DONE, backoff_s=0.01)
    assert (result.ok, result.attempts, result.status_code, result.errors) == (True, 1, 200, ())
    (req,) = rec.requests
    assert req["headers"]["x-provoice-event"] == "provoice.pvc.completed"
    body = req["body"]
    assert {k: body[k] for k in ("event", "pvc_id", "pvc_name", "status", "model_id", "voice_ids", "reason")} == {
        "event": "provoice.pvc.completed", "pvc_id": "pvc_1", "pvc_name": "Narrator", "status": "completed",
        "model_id": "base/pvc_1", "voice_ids": ["voice_a", "voice_b"], "reason": None}
    assert "voice_a, voice_b" in body["text"]


def test_failure_reason_is_sent():
    with receiver() as rec:
        assert send_webhook(rec.url, FAILED, backoff_s=0.01).ok
    assert rec.bodies[0]["event"] == "provoice.pvc.failed"
    assert "1 h 12 min" in rec.bodies[0]["reason"] and "1 h 12 min" in rec.bodies[0]["text"]


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
    assert not result.ok and result.attempts == 1 and "invalid webhook URL" in result.last_error


def test_secret_paths_stay_out_of_reports():
    assert display_url("https://hooks.slack.com/services/T0/B0/s3cret") == "https://hooks.slack.com/…"
    assert display_url("http://user:pw@10.0.0.1:8080/?token=s3cret") == "http://10.0.0.1:8080/…"
    assert display_url("http://example.com") == "http://example.com"
    assert display_url("nonsense") == "<invalid url>"
    with receiver([500]) as rec:
        assert "secret-token" not in send_webhook(rec.url, DONE, attempts=1).target


def test_notifications_are_only_for_finished_pvcs():
    with pytest.raises(ValueError, match="not 'training'"):
        Notification(pvc_id="pvc_1", pvc_name="x", status="training")
    assert FAILED.subject() == "PVC 'Narrator' failed"
    assert [retry_delay(2.0, n) for n in (1, 2, 3, 4)] == [0.0, 2.0, 4.0, 8.0]
