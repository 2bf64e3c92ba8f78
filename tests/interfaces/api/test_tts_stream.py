"""Streaming text-to-speech: sentence by sentence over HTTP and a WebSocket, metered as sent."""

from __future__ import annotations

import io
import time
import wave
from decimal import ROUND_DOWN, Decimal

import httpx
import pytest

from provoice.credits import balance, grant, tts_cost
from tests.conftest import served_model
from tests.interfaces.api.conftest import live, make_voice

THREE = "The first sentence is here. A second one follows it. And the third one ends the text."
EIGHT = " ".join(
    f"Sentence number {n} is spoken on its own."
    for n in ("one", "two", "three", "four", "five", "six", "seven", "eight")
)


@pytest.fixture
def served(app, alice, settings):
    """A voice of alice's on a quiet (noise-free, so repeatable) ONNX-served model, and credits."""
    model_id = served_model(settings, quiet=True)
    grant(app.state.catalog, alice.account_id, 1000)
    return make_voice(app.state.catalog, alice.account_id, model_id)


def _pcm(wav: bytes) -> bytes:
    with wave.open(io.BytesIO(wav)) as w:
        return w.readframes(w.getnframes())


def test_the_stream_sends_each_sentence_as_it_is_made_and_equals_the_whole(app, alice, served, slow_renders):
    catalog = app.state.catalog
    request = {"model_id": served.model_id, "voice_id": served.id, "text": THREE}
    with live(app) as url:
        whole = httpx.post(f"{url}/tts", json=request, headers=alice.headers, timeout=60)
        assert whole.status_code == 200
        arrivals, chunks = [], []
        with httpx.stream(
            "POST", f"{url}/tts", json={**request, "stream": True}, headers=alice.headers, timeout=60
        ) as r:
            assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
            assert r.headers["x-sample-rate"] == "22050" and r.headers["x-audio-format"] == "pcm_s16le"
            for chunk in r.iter_raw():
                arrivals.append(time.monotonic())
                chunks.append(chunk)
    body = b"".join(chunks)
    assert len(chunks) > 2 and arrivals[-1] - arrivals[0] >= 0.5  # audio came while the rest was made
    assert body[:4] == b"RIFF" and body[4:8] == b"\xff\xff\xff\xff"  # a streaming header: sizes unknown
    assert body[44:] == _pcm(whole.content)
    assert balance(catalog, alice.account_id) == 1000 - 2 * tts_cost(THREE)


@pytest.mark.both_databases
def test_a_client_that_goes_away_stops_the_synthesis_and_pays_for_what_was_sent(app, alice, served, slow_renders):
    catalog = app.state.catalog
    request = {"model_id": served.model_id, "voice_id": served.id, "text": EIGHT, "stream": True}
    with live(app) as url:
        with httpx.stream("POST", f"{url}/tts", json=request, headers=alice.headers, timeout=60) as r:
            got = 0
            for chunk in r.iter_raw():
                got += len(chunk)
                if got > 44:  # the header and the first sentence's audio
                    break
        deadline = time.monotonic() + 20
        while catalog_holds(catalog, alice.account_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        made = len(slow_renders)
        time.sleep(1.0)
    assert len(slow_renders) == made < 8  # synthesis stopped
    paid = Decimal(1000) - balance(catalog, alice.account_id)
    from provoice.voice_models import load_synthesizer

    units = load_synthesizer(app.state.settings, served.model_id).meta.front_end().sentence_units(EIGHT)
    lengths = [len(sentence) for sentence, _ in units]
    shares = {
        (tts_cost(EIGHT) * sum(lengths[:k]) / sum(lengths)).quantize(Decimal("0.001"), ROUND_DOWN)
        for k in range(1, len(lengths))
    }
    assert paid in shares, (paid, shares)  # the sentences sent, not the text


def catalog_holds(catalog, account_id: str) -> bool:
    from provoice.credits import account_balance

    return account_balance(catalog, account_id).held > 0


def test_the_websocket_streams_sentences_then_says_what_it_charged(client, app, alice, served):
    request = {"model_id": served.model_id, "voice_id": served.id, "text": THREE}
    whole = client.post("/tts", json=request, headers=alice.headers)
    with client.websocket_connect("/tts/ws", headers=alice.headers) as ws:
        ws.send_json(request)
        assert ws.receive_json() == {
            "format": "pcm_s16le",
            "container": "raw",
            "encoding": "pcm_s16le",
            "sample_rate": 22050,
            "channels": 1,
        }
        pcm, sentences = b"", []
        while True:
            message = ws.receive()
            if message.get("bytes") is not None:
                pcm += message["bytes"]
                continue
            import json

            data = json.loads(message["text"])
            if data.get("done"):
                break
            sentences.append(data["sentence"])
    assert len(sentences) == 3 and pcm == _pcm(whole.content)
    assert Decimal(str(data["charged_credits"])) == tts_cost(THREE)
    assert balance(app.state.catalog, alice.account_id) == 1000 - 2 * tts_cost(THREE)


def test_the_websocket_refuses_like_the_route(client, alice, served):
    with client.websocket_connect("/tts/ws") as ws:
        ws.send_json({})
        assert ws.receive_json()["error"] == "AuthError"
    with client.websocket_connect("/tts/ws", headers=alice.headers) as ws:
        ws.send_json({"model_id": "other", "voice_id": served.id, "text": "Hi."})
        assert ws.receive_json()["error"] == "ModelMismatch"


def test_nothing_to_say_is_refused_before_any_audio_and_holds_nothing(client, app, alice, served):
    request = {"model_id": served.model_id, "voice_id": served.id, "text": "...", "stream": True}
    r = client.post("/tts", json=request, headers=alice.headers)
    assert r.status_code == 422 and r.json()["error"] == "EmptyText"
    with client.websocket_connect("/tts/ws", headers=alice.headers) as ws:
        ws.send_json({k: v for k, v in request.items() if k != "stream"})
        assert ws.receive_json()["error"] == "EmptyText"
    assert catalog_holds(app.state.catalog, alice.account_id) is False
    assert balance(app.state.catalog, alice.account_id) == 1000
