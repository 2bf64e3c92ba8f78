"""Sample-rate conversion of float audio, shared by training items, voices and evaluation."""

from __future__ import annotations

import numpy as np

#: Whisper and the speaker encoder both take 16 kHz.
SPEECH_RATE = 16000


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`audio` at `rate` Hz as float32 at `target` Hz (polyphase, exact for rational ratios)."""
    if rate == target:
        return np.asarray(audio, dtype=np.float32)
    from scipy.signal import resample_poly

    g = np.gcd(rate, target)
    return resample_poly(audio, target // g, rate // g).astype(np.float32)


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    return resample(audio, rate, SPEECH_RATE)
