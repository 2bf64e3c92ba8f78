"""Webhook delivery against a real HTTP receiver on 127.0.0.1, including receivers that fail."""

import socket

import pytest

from provoice.notify import DeliveryFailed, Notification, display_url, post_webhook
from tests.http_receiver import receiver

LOCAL = ("127.0.0.1",)  # the test receivers listen on loopback, which webhooks may not reach by default
DONE = Notification(
    pvc_id="pvc_1", pvc_name="Narrator", status="completed", model_id="base/pvc_1", voice_ids=["voice_a", "voice_b"]
)
FAILED = Notification(
    pvc_id="pvc_2", pvc_name="Narrator", status="failed", reason="needs ≥ 3 h of accepted speech, has 1 h 12 min"
)


def test_delivers_json_with_everything_a_user_needs():
    with receiver() as rec:
        assert post_webhook(rec.url, DONE, allow_hosts=LOCAL) == 200
    (req,) = rec.requests
    assert req["headers"]["x-provoice-event"] == "provoice.pvc.completed"
    body = req["body"]
    assert {k: body[k] for k in ("event", "pvc_id", "pvc_name", "status", "model_id", "voice_ids", "reason")} == {
        "event": "provoice.pvc.completed",
        "pvc_id": "pvc_1",
        "pvc_name": "Narrator",
        "status": "completed",
        "model_id": "base/pvc_1",
        "voice_ids": ["voice_a", "voice_b"],
        "reason": None,
    }
    assert "voice_a, voice_b" in body["text"]


def test_failure_reason_is_sent():
    with receiver() as rec:
        post_webhook(rec.url, FAILED, allow_hosts=LOCAL)
    assert rec.bodies[0]["event"] == "provoice.pvc.failed"
    assert "1 h 12 min" in rec.bodies[0]["reason"] and "1 h 12 min" in rec.bodies[0]["text"]


def failure(url: str, **kwargs) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        post_webhook(url, DONE, allow_hosts=LOCAL, **kwargs)
    return caught.value


def test_each_failure_says_whether_another_attempt_could_succeed():
    with receiver([500]) as rec:
        exc = failure(rec.url)
    assert (str(exc), exc.retryable, exc.status_code) == ("HTTP 500 Internal Server Error", True, 500)
    with receiver([404]) as rec:
        assert failure(rec.url).retryable is False
    with receiver([429]) as rec:
        assert failure(rec.url).retryable is True
    with receiver([200], delay_s=0.5) as rec:
        exc = failure(rec.url, timeout_s=0.1)
    assert exc.retryable and "Timeout" in str(exc)


def test_unreachable_and_malformed_urls():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exc = failure(f"http://127.0.0.1:{port}/hook")
    assert exc.retryable and "ConnectError" in str(exc)
    exc = failure("not a url")
    assert not exc.retryable and "webhook URL must be http:// or https://" in str(exc)


def test_secret_paths_stay_out_of_reports():
    assert display_url("https://hooks.slack.com/services/T0/B0/s3cret") == "https://hooks.slack.com/…"
    assert display_url("http://user:pw@10.0.0.1:8080/?token=s3cret") == "http://10.0.0.1:8080/…"
    assert display_url("http://example.com") == "http://example.com"
    assert display_url("nonsense") == "<invalid url>"


def test_notifications_are_only_for_finished_pvcs():
    with pytest.raises(ValueError, match="not 'training'"):
        Notification(pvc_id="pvc_1", pvc_name="x", status="training")
    assert FAILED.subject() == "PVC 'Narrator' failed"


def test_loopback_private_and_metadata_destinations_are_refused_before_any_request():
    with receiver() as rec:
        exc = failure_without_allow(rec.url)
    assert not exc.retryable and "loopback" in str(exc) and rec.requests == []
    assert "link-local" in str(failure_without_allow("http://169.254.169.254/latest/meta-data/"))
    assert "private" in str(failure_without_allow("http://10.0.0.1/hook"))


def failure_without_allow(url: str) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        post_webhook(url, DONE)
    return caught.value
