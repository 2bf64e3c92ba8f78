"""What a careless or hostile client can send: repeated and reused keys, concurrent requests on a
thin balance, absurd budgets, huge or deep bodies, hostile names, and uploads whose framing lies.
Each is refused with a 4xx naming the rule, and none of them charges, stores or leaks anything."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from provoice.credits import PVC_TRAINING_CREDITS, account_balance, balance, grant
from tests.interfaces.api.conftest import live, make_voice, new_fine_tune


@pytest.fixture
def voice(app, alice, base):
    return make_voice(app.state.catalog, alice.account_id, base)


@pytest.fixture
def syntheses(monkeypatch):
    """Counts the synthesis calls the TTS route makes."""
    from provoice.voice_models import Synthesizer

    calls = []
    real = Synthesizer.synthesize

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(Synthesizer, "synthesize", counted)
    return calls


@pytest.mark.both_databases
def test_an_idempotency_key_binds_the_whole_request(client, app, alice, voice, base, syntheses):
    grant(app.state.catalog, alice.account_id, 100)
    headers = {**alice.headers, "Idempotency-Key": "order-7"}
    first = {"model_id": base, "voice_id": voice.id, "text": "Hello there."}
    r1 = client.post("/tts", json=first, headers=headers)
    assert r1.status_code == 200 and balance(app.state.catalog, alice.account_id) == 82

    other = {**first, "text": "A much longer text that would cost a great deal more."}
    r = client.post("/tts", json=other, headers=headers)
    assert r.status_code == 409 and "already used for a different request" in r.json()["detail"]
    repeat = client.post("/tts", json=first, headers=headers)
    assert repeat.status_code == 200 and repeat.content == r1.content
    assert balance(app.state.catalog, alice.account_id) == 82 and len(syntheses) == 1


@pytest.mark.both_databases
def test_concurrent_requests_on_a_thin_balance_never_overdraw(app, alice, voice, base):
    """Ten requests at once on a balance that pays for four: four succeed, six are 402, none 500."""
    grant(app.state.catalog, alice.account_id, 4 * 18)
    with live(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        request = {"model_id": base, "voice_id": voice.id, "text": "Hello there."}
        with ThreadPoolExecutor(10) as pool:
            codes = sorted(
                pool.map(lambda _: http.post("/tts", json=request, headers=alice.headers).status_code, range(10))
            )
    assert codes == [200] * 4 + [402] * 6
    bal = account_balance(app.state.catalog, alice.account_id)
    assert (bal.total, bal.held, bal.available) == (0, 0, 0)


@pytest.mark.parametrize(
    "raw, field",
    [
        ('{"max_minutes": NaN}', "max_minutes"),
        ('{"max_minutes": Infinity}', "max_minutes"),
        ('{"max_minutes": 1e9}', "max_minutes"),
        ('{"max_steps": 1e30}', "max_steps"),
        ('{"max_steps": "10"}', "max_steps"),
        ('{"max_steps": 10, "gpu": "all of them"}', "gpu"),
    ],
)
def test_absurd_budgets_are_422_and_nothing_is_held(client, app, alice, base, raw, field):
    pvc = new_fine_tune(client, alice)
    grant(app.state.catalog, alice.account_id, PVC_TRAINING_CREDITS)
    r = client.post(
        f"/fine-tunes/{pvc['id']}/train", content=raw, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and field in r.text
    assert account_balance(app.state.catalog, alice.account_id).held == 0


def test_a_budget_over_the_service_cap_names_the_setting(client, app, alice, base):
    pvc = new_fine_tune(client, alice)
    grant(app.state.catalog, alice.account_id, PVC_TRAINING_CREDITS)
    r = client.post(f"/fine-tunes/{pvc['id']}/train", json={"max_minutes": 5000}, headers=alice.headers)
    assert r.status_code == 422 and "PROVOICE_MAX_TRAIN_MINUTES" in r.json()["detail"]
    assert account_balance(app.state.catalog, alice.account_id).held == 0


def test_deep_and_huge_bodies_are_refused_before_parsing(client, alice, settings):
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post("/bucket-events", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "BodyTooDeep"
    huge = json.dumps({"name": "x" * (settings.max_json_bytes + 10)})
    r = client.post("/datasets", content=huge, headers={**alice.headers, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "BodyTooLarge"


def test_validation_errors_do_not_echo_the_input(client, alice):
    big = "y" * 900_000
    r = client.post("/datasets", json={"name": big}, headers=alice.headers)
    assert r.status_code == 422 and len(r.content) < 2_000 and "yyyy" not in r.text


def test_names_are_cleaned_of_control_and_invisible_characters(client, alice):
    r = client.post("/datasets", json={"name": "Narrator\u202egnp.exe\x00\u200b takes"}, headers=alice.headers)
    assert r.status_code == 201
    assert r.json()["name"] == "Narratorgnp.exe takes"


def test_replies_never_carry_storage_uris(client, alice, settings, tmp_path):
    from provoice import synthetic

    ds = client.post("/datasets", json={"name": "d"}, headers=alice.headers).json()["id"]
    take = tmp_path / "take.wav"
    synthetic.speech_file(take, synthetic.corpus(1))
    with take.open("rb") as f:
        r = client.post(f"/datasets/{ds}/files", files={"files": ("take.wav", f, "audio/wav")}, headers=alice.headers)
    assert r.status_code == 201, r.text
    for reply in (
        r,
        client.get(f"/datasets/{ds}", headers=alice.headers),
        client.get("/datasets", headers=alice.headers),
    ):
        assert "file://" not in reply.text and str(settings.home) not in reply.text


BOUNDARY = "b0undary"


def _part(name: str, data: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    )


def _raw_upload(url: str, path: str, api_key: str, body: bytes, content_length: int) -> bytes:
    """Send a multipart request over a plain socket, then close our side: what the server answers."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {api_key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {content_length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head + body)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return reply


@pytest.mark.parametrize("case", ["unclosed last part", "shorter than Content-Length"])
def test_uploads_whose_framing_is_incomplete_store_nothing(app, alice, tmp_path, case):
    from provoice import synthetic

    catalog = app.state.catalog
    ds = catalog.create_dataset("d", account_id=alice.account_id)
    take = tmp_path / "take.wav"
    synthetic.speech_file(take, synthetic.corpus(1))
    whole = _part("take.wav", take.read_bytes())
    if case == "unclosed last part":
        body, length = whole, len(whole)  # no closing boundary: the client stopped mid-upload
    else:
        body = whole + f"--{BOUNDARY}--\r\n".encode()
        body, length = body[: len(body) // 2], len(body)  # the connection dropped halfway
    with live(app) as url:
        reply = _raw_upload(url, f"/datasets/{ds.id}/files", alice.headers["X-API-Key"], body, length)
    status = int(reply.split(b" ", 2)[1]) if reply else None
    assert status is None or 400 <= status < 500, reply[:300]
    assert catalog.files(ds.id) == []
