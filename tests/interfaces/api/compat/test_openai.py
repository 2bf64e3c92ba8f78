"""The official `openai` client, unmodified, against a served ProVoice under `/v1`."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from provoice.credits import account_balance, balance, tts_cost
from tests.interfaces.api.compat.conftest import decode

TEXT = "The first sentence is here. A second one follows it. And the third one ends the text."
EIGHT = " ".join(
    f"Sentence number {n} is spoken on its own."
    for n in ("one", "two", "three", "four", "five", "six", "seven", "eight")
)


@pytest.fixture
def client(served) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=served.key, max_retries=0)


@pytest.mark.parametrize(
    ("response_format", "content_type", "codec"),
    [
        ("mp3", "audio/mpeg", "mp3float"),
        ("opus", "audio/opus", "opus"),
        ("aac", "audio/aac", "aac"),
        ("flac", "audio/flac", "flac"),
        ("wav", "audio/wav", "pcm_s16le"),
        ("pcm", "audio/pcm", "pcm_s16le"),
    ],
)
def test_every_response_format_decodes_at_24_khz(client, served, response_format, content_type, codec):
    raw = client.audio.speech.with_raw_response.create(
        model="gpt-4o-mini-tts", voice=served.voice.id, input=TEXT, response_format=response_format
    )
    response = raw.parse()
    assert raw.headers["content-type"] == content_type
    rate, seconds, decoded = decode(response.content, "s16le" if response_format == "pcm" else None, 24000)
    assert decoded == codec
    assert rate == (48000 if response_format == "opus" else 24000)  # Opus always decodes at 48 kHz
    assert 1.5 < seconds < 20
    if response_format == "pcm":
        assert len(response.content) == round(seconds * 24000) * 2


def test_speech_streams_as_it_is_made_and_speed_changes_its_length(client, served):
    """The tiny model's phonemes last a frame or two and its durations are noisy, and a duration rounds up
    to whole frames, so speed 2 shortens it by about a third (0.67-0.75 measured), 0.5 lengthens it by
    1.5-1.8 times; the bounds leave room for that noise."""
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice=served.voice.id, input=TEXT, response_format="pcm"
    ) as response:
        chunks = [c for c in response.iter_bytes() if c]
    assert len(chunks) >= 3  # a sentence at a time
    normal = len(b"".join(chunks))
    fast, slow = (
        len(
            client.audio.speech.create(
                model="tts-1", voice={"id": served.voice.id}, input=TEXT, response_format="pcm", speed=speed
            ).content
        )
        for speed in (2.0, 0.5)
    )
    assert fast < 0.9 * normal
    assert slow > 1.25 * normal


def test_sse_events_carry_the_audio_then_usage(client, served):
    response = client.audio.speech.create(
        model="gpt-4o-mini-tts", voice=served.voice.id, input=TEXT, response_format="pcm", stream_format="sse"
    )
    events = [json.loads(line[len("data: ") :]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events][-1] == "speech.audio.done"
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 3
    import base64

    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert len(audio) % 2 == 0 and len(audio) > 24000
    assert events[-1]["usage"]["input_tokens"] == len(TEXT)


def test_voices_and_models_listings(client, served):
    assert client.models.list().data[0].id == "tts-1"
    assert served.voice.model_id in [m.id for m in client.models.list().data]
    headers = {"Authorization": f"Bearer {served.key}"}
    voices = httpx.get(f"{served.url}/v1/audio/voices", headers=headers).json()
    assert voices == {"voices": [{"id": served.voice.id, "name": served.voice.name}]}
    # Open WebUI asks without a key: nothing to show, and no error
    assert httpx.get(f"{served.url}/v1/audio/voices").json() == {"voices": []}
    assert httpx.get(f"{served.url}/v1/audio/voices", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert {"id": "tts-1"} in httpx.get(f"{served.url}/v1/audio/models").json()["models"]


def test_errors_come_in_openai_shape(client, served, app, bob):
    with pytest.raises(openai.NotFoundError) as missing:
        client.audio.speech.create(model="tts-1", voice="v_nobody", input="Hello.")
    assert missing.value.body["type"] == "invalid_request_error" and "v_nobody" in missing.value.body["message"]
    with pytest.raises(openai.AuthenticationError) as bad_key:
        openai.OpenAI(base_url=f"{served.url}/v1", api_key="wrong", max_retries=0).audio.speech.create(
            model="tts-1", voice=served.voice.id, input="Hello."
        )
    assert bad_key.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.UnprocessableEntityError) as bad_speed:
        client.audio.speech.create(model="tts-1", voice=served.voice.id, input="Hello.", speed=9)
    assert "speed" in bad_speed.value.body["message"]
    poor = openai.OpenAI(base_url=f"{served.url}/v1", api_key=bob.headers["X-API-Key"], max_retries=0)
    from tests.interfaces.api.conftest import make_voice

    bobs = make_voice(app.state.catalog, bob.account_id, served.voice.model_id)
    with pytest.raises(openai.APIStatusError) as broke:
        poor.audio.speech.create(model="tts-1", voice=bobs.id, input="Hello.")
    assert broke.value.status_code == 402 and broke.value.body["code"] == "insufficient_quota"
    assert broke.value.response.headers["x-should-retry"] == "false"


def test_a_retried_request_is_charged_once(served, app, monkeypatch):
    """The client retries a 503 on its own; the failed attempt's hold went back, so one charge."""
    import interfaces.api.speech as speech
    from provoice.errors import TransientError

    catalog, real = app.state.catalog, speech.load_synthesizer
    failures = iter([TransientError("the model store is not reachable; try again")])

    def flaky(*args, **kwargs):
        failure = next(failures, None)
        if failure:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(speech, "load_synthesizer", flaky)
    start = balance(catalog, served.account_id)
    retrying = openai.OpenAI(base_url=f"{served.url}/v1", api_key=served.key, max_retries=2)
    retrying.audio.speech.create(model="tts-1", voice=served.voice.id, input=TEXT, response_format="wav")
    assert next(failures, None) is None  # the first attempt did fail
    assert balance(catalog, served.account_id) == start - tts_cost(TEXT)


def test_a_stream_cut_short_is_charged_only_for_what_it_sent(served, app, slow_renders):
    catalog = app.state.catalog
    start = balance(catalog, served.account_id)
    with httpx.stream(
        "POST",
        f"{served.url}/v1/audio/speech",
        headers={"Authorization": f"Bearer {served.key}"},
        json={"model": "tts-1", "voice": served.voice.id, "input": EIGHT, "response_format": "pcm"},
        timeout=60,
    ) as r:
        next(r.iter_raw())  # the first sentence, then the client goes away
    deadline = time.monotonic() + 20
    while account_balance(catalog, served.account_id).held and time.monotonic() < deadline:
        time.sleep(0.1)
    charged = start - balance(catalog, served.account_id)
    assert 0 < charged < tts_cost(EIGHT) / 2
    assert account_balance(catalog, served.account_id).held == 0
