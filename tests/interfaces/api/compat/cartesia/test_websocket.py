"""The speech WebSocket: contexts interleaved, continued, flushed, cancelled and failed one by one,
and the ways a key reaches it."""

from __future__ import annotations

import json

import cartesia
import pytest
import websockets.sync.client
from websockets.exceptions import InvalidStatus

from provoice.credits import tts_cost
from tests.interfaces.api.compat.cartesia.conftest import (
    EIGHT,
    MODEL_RATE,
    S16_NATIVE,
    TEXT,
    partial_charges,
    settled,
)


def test_websocket_contexts_interleave_continue_flush_and_time_their_words(client, served, app):
    with client.tts.websocket_connect() as connection:
        first = connection.context(
            "first", model_id="sonic-3", voice=served.voice.id, output_format=S16_NATIVE, add_timestamps=True
        )
        second = connection.context(
            "second", model_id="sonic-3", voice={"id": served.voice.id}, output_format=S16_NATIVE
        )
        first.push("The first sentence is here. A sec")
        received = first.receive()
        early = next(received)  # the complete sentence is spoken before the rest of the text arrives
        assert early.type == "chunk" and early.context_id == "first" and early.flush_id == 1
        second.push("Another context speaks at the same time. ")
        first.push("ond one follows it. ", flush=True)
        first.push("And the third one ends the text.")
        second.no_more_inputs()
        first.no_more_inputs()
        firsts = [early, *received]
        seconds = list(second.receive())
    kinds = [e.type for e in firsts]
    assert kinds[-1] == "done" and kinds.count("flush_done") == 1
    flush = firsts[kinds.index("flush_done")]
    assert (flush.flush_id, flush.flush_done) == (1, True)
    assert {e.flush_id for e in firsts[: kinds.index("flush_done")] if e.type == "chunk"} == {1}
    assert {e.flush_id for e in firsts[kinds.index("flush_done") :] if e.type == "chunk"} == {2}
    words = [w for e in firsts if e.type == "timestamps" for w in e.word_timestamps.words]
    starts = [s for e in firsts if e.type == "timestamps" for s in e.word_timestamps.start]
    assert " ".join(words).lower().replace(".", "") == TEXT.lower().replace(".", "")
    assert starts == sorted(starts)  # the continuations' words go on from the audio already sent
    audio = b"".join(e.audio for e in firsts if e.type == "chunk")
    assert 0 < starts[-1] < len(audio) / 2 / MODEL_RATE
    assert [e.type for e in seconds][-1] == "done" and "timestamps" not in [e.type for e in seconds]
    assert sum(len(e.audio) for e in seconds if e.type == "chunk") > MODEL_RATE  # more than half a second
    spent = 10_000 - settled(app, served.account_id)
    # each piece is charged as it is spoken: together, what the whole text costs at once
    assert spent == tts_cost(TEXT) + tts_cost("Another context speaks at the same time. ")


def test_a_cancelled_context_stops_and_pays_for_what_it_sent(client, served, app, settings, slow_renders):
    with client.tts.websocket_connect() as connection:
        doomed = connection.context("doomed", voice=served.voice.id, output_format=S16_NATIVE)
        doomed.push(EIGHT, continue_=False)
        events = doomed.receive()
        assert next(events).type == "chunk"
        doomed.cancel()
        after = connection.context("after", voice=served.voice.id, output_format=S16_NATIVE)
        after.push("Still here.", continue_=False)
        # the client hands a cancelled context's last pieces in flight to the context reading: skip them
        assert [e.type for e in after.receive() if e.context_id == "after"][-1] == "done"
    paid = 10_000 - settled(app, served.account_id) - tts_cost("Still here.")
    assert paid in partial_charges(settings, EIGHT)  # the sentences sent before the cancel, not the text
    assert len(slow_renders) < 8 + 1  # "Still here." and fewer than the eight


def test_websocket_errors_end_only_their_context(client, served, bob):
    with client.tts.websocket_connect() as connection:
        lost = connection.context("lost", voice="voice_missing", output_format=S16_NATIVE)
        lost.push("Hello there.", continue_=False)
        error = list(lost.receive())[-1]
        assert (error.type, error.status_code, error.error_code) == ("error", 404, "not_found")
        wav = connection.context("wav", voice=served.voice.id, output_format={**S16_NATIVE, "container": "wav"})
        wav.push("Hello there.", continue_=False)
        error = list(wav.receive())[-1]
        assert error.type == "error" and error.status_code == 422 and "raw" in error.message
        fine = connection.context("fine", voice=served.voice.id, output_format=S16_NATIVE)
        fine.push("Hello there.", continue_=False)
        assert [e.type for e in fine.receive()][-1] == "done"
    broke = cartesia.Cartesia(
        api_key=bob.headers["X-API-Key"],
        base_url=client.base_url,
        websocket_base_url=client.websocket_base_url,
        max_retries=0,
    )
    with broke.tts.websocket_connect() as connection:
        poor = connection.context("poor", voice=served.voice.id, output_format=S16_NATIVE)
        poor.push("Hello there.", continue_=False)
        error = list(poor.receive())[-1]
        assert error.status_code == 404  # bob cannot see alice's voice


def test_websocket_keys_in_headers_or_query(client, served):
    bad = cartesia.Cartesia(api_key="pv_wrong", base_url=client.base_url, websocket_base_url=client.websocket_base_url)
    with pytest.raises(InvalidStatus) as refused:
        bad.tts.websocket_connect().enter()
    assert refused.value.response.status_code == 401
    for param in ("api_key", "access_token"):  # browsers cannot set a WebSocket's headers
        with websockets.sync.client.connect(f"{client.websocket_base_url}/tts/websocket?{param}={served.key}") as ws:
            ws.send(
                json.dumps(
                    {
                        "context_id": "q",
                        "model_id": "sonic-3",
                        "transcript": "Hello there.",
                        "voice": {"mode": "id", "id": served.voice.id},
                        "output_format": S16_NATIVE,
                        "continue": False,
                    }
                )
            )
            events = []
            while not events or events[-1]["type"] not in ("done", "error"):
                message = ws.recv(timeout=30)
                assert isinstance(message, str)  # text frames only
                events.append(json.loads(message))
        assert events[-1]["type"] == "done" and events[0]["type"] == "chunk"
    with websockets.sync.client.connect(
        f"{client.websocket_base_url}/tts/websocket", additional_headers={"X-API-Key": served.key}
    ) as ws:
        ws.send("not json")
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and error["status_code"] == 422
