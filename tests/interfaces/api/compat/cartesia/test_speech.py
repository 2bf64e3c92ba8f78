"""Speech as bytes and as server-sent events, in every output format and at every speed, charged
for what reached the client; and the status route."""

from __future__ import annotations

import io
import time

import av
import httpx
import numpy as np
import pytest
import soxr

from provoice.credits import tts_cost
from provoice.tts.onnx_voice import OnnxVoice
from tests.interfaces.api.compat.cartesia.conftest import (
    EIGHT,
    MODEL_RATE,
    S16_NATIVE,
    TEXT,
    partial_charges,
    settled,
)


def samples(data: bytes, fmt: dict) -> tuple[int, np.ndarray]:
    """(sample rate, float samples) of audio in a Cartesia output format, read back by FFmpeg."""
    raw = {"pcm_s16le": "s16le", "pcm_f32le": "f32le", "pcm_mulaw": "mulaw", "pcm_alaw": "alaw"}
    options = {}
    container = None
    if fmt["container"] == "raw":
        container = raw[fmt["encoding"]]
        options = {"sample_rate": str(fmt["sample_rate"]), "ac": "1"}
    with av.open(io.BytesIO(data), format=container, options=options) as opened:
        stream = opened.streams.audio[0]
        frames = [f.to_ndarray().astype(np.float64).reshape(-1) for f in opened.decode(stream)]
        pcm = np.concatenate(frames)
        scale = 32768.0 if stream.format.name.startswith("s16") else 1.0
        return stream.rate, pcm / scale


def similarity(a: np.ndarray, b: np.ndarray, rate: int, lag: int = 2000) -> float:
    """Normalised correlation of `b` (at `rate`) with `a` (at the model's rate), at the best lag up to
    `lag` samples (an mp3 starts late by its encoder's delay)."""
    b = soxr.resample(b, rate, MODEL_RATE) if rate != MODEL_RATE else b
    b = np.pad(b, (0, max(0, a.size + lag - b.size)))[: a.size + lag]
    return float(np.max(np.abs(np.correlate(b, a, mode="valid"))) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


FORMATS = [
    {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 44100},
    {"container": "raw", "encoding": "pcm_mulaw", "sample_rate": 8000},
    {"container": "raw", "encoding": "pcm_alaw", "sample_rate": 8000},
    {"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000},
    {"container": "wav", "encoding": "pcm_f32le", "sample_rate": 24000},
    {"container": "wav", "encoding": "pcm_mulaw", "sample_rate": 8000},
    {"container": "wav", "encoding": "pcm_alaw", "sample_rate": 8000},
    {"container": "mp3", "bit_rate": 128000, "sample_rate": 44100},
]


def test_every_output_format_decodes_to_the_same_speech(client, served, app):
    reference = client.tts.generate(
        model_id="sonic-3", transcript=TEXT, voice=served.voice.id, output_format=S16_NATIVE
    ).read()
    _, speech = samples(reference, S16_NATIVE)
    seconds = speech.size / MODEL_RATE
    assert seconds > 1.5 and np.sqrt(np.mean(speech**2)) > 1e-3
    for fmt in FORMATS:
        data = client.tts.generate(
            model_id="sonic-3", transcript=TEXT, voice={"id": served.voice.id}, output_format=fmt
        ).read()
        rate, decoded = samples(data, fmt)
        assert rate == fmt["sample_rate"], fmt
        if fmt["container"] == "wav":
            tag = {"pcm_s16le": 1, "pcm_f32le": 3, "pcm_alaw": 6, "pcm_mulaw": 7}[fmt["encoding"]]
            assert data[:4] == b"RIFF" and int.from_bytes(data[20:22], "little") == tag
        mp3 = fmt["container"] == "mp3"
        assert abs(decoded.size / rate - seconds) < (0.1 if mp3 else 0.01), fmt  # mp3 frames pad the end
        assert similarity(speech, decoded, rate) > (0.8 if mp3 else 0.95), fmt
    assert settled(app, served.account_id) == 10_000 - 9 * tts_cost(TEXT)


def test_speed_and_older_clients(client, served, monkeypatch):
    scales = []
    real = OnnxVoice.render

    def render(self, ids, g, noise_scale, length_scale, noise_w):
        scales.append(round(length_scale, 4))
        return real(self, ids, g, noise_scale, length_scale, noise_w)

    monkeypatch.setattr(OnnxVoice, "render", render)
    for options, speed in (
        ({}, 1.0),
        ({"generation_config": {"speed": 1.5, "volume": 2.0}}, 1.5),
        ({"speed": "slow"}, 0.8),
        ({"speed": "fast"}, 1.25),
        ({"speed": "fast", "generation_config": {"speed": 0.6}}, 0.6),
    ):
        scales.clear()
        client.tts.generate(
            model_id="sonic-2", transcript="Hello there.", voice=served.voice.id, output_format=S16_NATIVE, **options
        ).read()
        assert scales == [round(1.0 / speed, 4)], options  # the model's length scale (1 here) over the speed
    with pytest.warns(DeprecationWarning):
        old = b"".join(
            client.tts.bytes(
                model_id="sonic-english", transcript="Hello there.", voice=served.voice.id, output_format=S16_NATIVE
            )
        )
    assert len(old) > 4000
    r = httpx.post(
        f"{served.url}/cartesia/tts/bytes",
        timeout=30,
        headers={"X-API-Key": served.key, "Cartesia-Version": "2024-06-10"},
        json={
            "model_id": "sonic-english",
            "transcript": "Hello there.",
            "language": "en",
            "voice": {"mode": "id", "id": served.voice.id},
            "output_format": S16_NATIVE,
        },
    )
    assert r.status_code == 200 and len(r.content) > 4000


def test_sse_sends_chunks_timestamps_then_done(client, served, app):
    stream = client.tts.generate_sse(
        model_id="sonic-3",
        transcript=TEXT,
        voice=served.voice.id,
        context_id="ctx-1",
        output_format=S16_NATIVE,
        add_timestamps=True,
    )
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1 and "error" not in kinds
    assert events[-1].status_code == 200 and events[-1].done is True
    chunks = [e for e in events if e.type == "chunk"]
    assert len(chunks) >= 3 and all(
        c.status_code == 206 and c.done is False and c.context_id == "ctx-1" for c in chunks
    )
    assert all(c.step_time >= 0 for c in chunks)
    audio = b"".join(c.audio for c in chunks)
    words = [w for e in events if e.type == "timestamps" for w in e.word_timestamps.words]
    starts = [s for e in events if e.type == "timestamps" for s in e.word_timestamps.start]
    ends = [s for e in events if e.type == "timestamps" for s in e.word_timestamps.end]
    assert [w.strip(".").lower() for w in words] == [w.strip(".").lower() for w in TEXT.split()]
    assert starts == sorted(starts) and all(a < b for a, b in zip(starts, ends))
    assert 0 < ends[-1] <= len(audio) / 2 / MODEL_RATE + 0.05
    plain = list(
        client.tts.generate_sse(
            model_id="sonic-3", transcript="Just this.", voice=served.voice.id, output_format=S16_NATIVE
        )
    )
    assert [e.type for e in plain][-1] == "done" and "timestamps" not in [e.type for e in plain]
    assert settled(app, served.account_id) == 10_000 - tts_cost(TEXT) - tts_cost("Just this.")


def test_a_failure_mid_stream_is_an_error_event_and_only_the_audio_sent_is_charged(
    client, served, app, settings, monkeypatch
):
    real, renders = OnnxVoice.render, []

    def failing(self, *args, **kwargs):
        renders.append(1)
        if len(renders) == 2:
            raise RuntimeError("the graph failed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(OnnxVoice, "render", failing)
    events = list(
        client.tts.generate_sse(model_id="sonic-3", transcript=TEXT, voice=served.voice.id, output_format=S16_NATIVE)
    )
    assert {e.type for e in events[:-1]} == {"chunk"} and events[-1].type == "error"
    assert (events[-1].status_code, events[-1].error_code, events[-1].done) == (500, "internal_error", True)
    paid = 10_000 - settled(app, served.account_id)
    assert paid == min(partial_charges(settings, TEXT))  # the first sentence's share, nothing more


def test_a_client_gone_mid_stream_pays_only_for_what_it_got(client, served, app, settings, slow_renders):
    with client.tts.with_streaming_response.generate(
        model_id="sonic-3", transcript=EIGHT, voice=served.voice.id, output_format=S16_NATIVE
    ) as response:
        assert next(response.iter_bytes())  # the first sentence, then the client hangs up
    paid = 10_000 - settled(app, served.account_id)
    assert paid in partial_charges(settings, EIGHT)
    made = len(slow_renders)
    time.sleep(0.8)
    assert len(slow_renders) == made < 8  # the synthesis stopped with the client


def test_status(client):
    status = client.get_status()
    assert status.ok is True and status.version == "2026-08-14"
