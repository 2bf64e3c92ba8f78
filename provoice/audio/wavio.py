"""Small helpers for reading and writing mono 16-bit PCM WAV files in bounded memory."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np


def read_wav_info(path: str | Path) -> tuple[int, int]:
    """(sample_rate, number of frames) of a mono 16-bit WAV."""
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnframes()


def read_slice(path: str | Path, start_s: float, end_s: float) -> np.ndarray:
    """Samples in [start_s, end_s) as float32 in [-1, 1], reading only that span."""
    with wave.open(str(path), "rb") as w:
        sr, n = w.getframerate(), w.getnframes()
        a = max(0, min(n, round(start_s * sr)))
        b = max(a, min(n, round(end_s * sr)))
        w.setpos(a)
        raw = w.readframes(b - a)
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def iter_blocks(path: str | Path, block_frames: int) -> Iterator[np.ndarray]:
    """Consecutive int16 blocks of a WAV, so long files never load whole."""
    with wave.open(str(path), "rb") as w:
        while True:
            raw = w.readframes(block_frames)
            if not raw:
                return
            yield np.frombuffer(raw, dtype="<i2")


def write_wav(path: str | Path | BinaryIO, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples in [-1, 1] (or int16) as a mono 16-bit WAV, to a path or a binary file."""
    frames = samples.astype("<i2").tobytes() if samples.dtype == np.int16 else pcm16(samples)
    with wave.open(str(path) if isinstance(path, (str, Path)) else path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(frames)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """The bytes `write_wav` would write, for responses and stored previews."""
    buffer = io.BytesIO()
    write_wav(buffer, samples, sample_rate)
    return buffer.getvalue()


def pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as little-endian 16-bit PCM bytes."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
