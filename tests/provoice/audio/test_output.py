"""The audio output stage: every container and encoding at common rates, whole and streamed."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from provoice.audio.output import (
    AudioEncoder,
    AudioFormat,
    BadAudioFormat,
    Container,
    Encoding,
    encode_whole,
    length_scale_for,
    wav_with_sizes,
)
from tests.interfaces.api.compat.conftest import decode

RATE = 22050


def tone(seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


RAW_NAMES = {
    Encoding.PCM_S16LE: "s16le",
    Encoding.PCM_F32LE: "f32le",
    Encoding.PCM_MULAW: "mulaw",
    Encoding.PCM_ALAW: "alaw",
}


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("container", [Container.WAV, Container.RAW])
@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100, 48000])
def test_pcm_in_wav_and_raw_at_every_rate(container, encoding, rate):
    data = encode_whole(tone(), RATE, AudioFormat(container, encoding, rate))
    raw = RAW_NAMES[encoding] if container is Container.RAW else None
    got_rate, seconds, codec = decode(data, raw, rate)
    assert (got_rate, codec) == (rate, encoding.value)
    assert seconds == pytest.approx(1.0, abs=2 / rate)


@pytest.mark.parametrize(
    ("container", "rate", "codec"),
    [
        (Container.MP3, 44100, "mp3"),
        (Container.MP3, 24000, "mp3"),
        (Container.MP3, 8000, "mp3"),
        (Container.OPUS, 48000, "opus"),
        (Container.OPUS, 16000, "opus"),
        (Container.AAC, 24000, "aac"),
        (Container.AAC, 48000, "aac"),
        (Container.FLAC, 44100, "flac"),
        (Container.FLAC, 8000, "flac"),
    ],
)
def test_compressed_formats_decode_to_the_same_length(container, rate, codec):
    data = encode_whole(tone(2.0), RATE, AudioFormat(container, sample_rate=rate))
    got_rate, seconds, decoded = decode(data)
    assert decoded.startswith(codec)
    assert got_rate == (48000 if container is Container.OPUS else rate)  # Opus decoders always give 48 kHz
    assert seconds == pytest.approx(2.0, abs=0.08)  # codec priming and padding only


def test_a_streamed_wav_is_the_whole_one_once_its_sizes_are_known():
    audio = tone(1.5)
    fmt = AudioFormat(Container.WAV, Encoding.PCM_S16LE, 16000)
    encoder = AudioEncoder(fmt, RATE, streamed=True)
    pieces = [encoder.add(audio[:10000]), encoder.add(audio[10000:20000]), encoder.add(audio[20000:])]
    streamed = b"".join(pieces) + encoder.finish()
    assert streamed[4:8] == b"\xff\xff\xff\xff" and all(pieces)
    assert wav_with_sizes(streamed) == encode_whole(audio, RATE, fmt)
    with wave.open(io.BytesIO(wav_with_sizes(streamed))) as w:
        assert (w.getframerate(), w.getnframes()) == (16000, round(1.5 * 16000))


def test_resampling_a_piece_at_a_time_joins_without_a_seam():
    """soxr keeps its filter state, so sentence-by-sentence output equals one pass (no clicks)."""
    audio = tone(1.0)
    fmt = AudioFormat(Container.RAW, Encoding.PCM_F32LE, 48000)
    encoder = AudioEncoder(fmt, RATE, streamed=True)
    streamed = b"".join(encoder.add(audio[i : i + 3000]) for i in range(0, audio.size, 3000)) + encoder.finish()
    whole = encode_whole(audio, RATE, fmt)
    a, b = np.frombuffer(streamed, "<f4"), np.frombuffer(whole, "<f4")
    assert a.size == b.size == 48000
    assert np.max(np.abs(a - b)) < 1e-3


def test_compressed_audio_leaves_while_it_is_encoded():
    encoder = AudioEncoder(AudioFormat(Container.OPUS, sample_rate=24000), RATE, streamed=True)
    first = encoder.add(tone(1.0))
    assert first.startswith(b"OggS") and len(first) > 2000  # pages out before the stream ends
    assert encoder.add(tone(1.0)) and encoder.finish()


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        (dict(container="ogg"), "unknown container 'ogg'"),
        (dict(container="wav", sample_rate=96000), "96000 Hz is out of range"),
        (dict(container="opus", sample_rate=44100), "opus cannot be encoded at 44100 Hz"),
        (dict(container="mp3", bit_rate=1000), "mp3 takes 8000 to 320000 bit/s"),
        (dict(container="flac", bit_rate=128000), "lossless"),
        (dict(container="wav", bit_rate=128000), "no bit rate"),
    ],
)
def test_formats_that_cannot_be_made_are_refused_saying_why(fmt, message):
    with pytest.raises(BadAudioFormat, match=message):
        AudioFormat(**fmt)


def test_speed_is_the_inverse_of_the_length_scale():
    assert length_scale_for(1.0, 2.0) == 0.5 and length_scale_for(1.2, 0.5) == 2.4
    with pytest.raises(BadAudioFormat, match="speed 5"):
        length_scale_for(1.0, 5)


def test_the_model_rate_is_kept_where_a_codec_takes_it():
    assert AudioFormat().rate_for(22050) == 22050
    assert AudioFormat(Container.OPUS).rate_for(22050) == 24000
    assert AudioFormat(Container.MP3).describe(22050) == {
        "container": "mp3",
        "sample_rate": 22050,
        "channels": 1,
        "bit_rate": 128000,
    }
