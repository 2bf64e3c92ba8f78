"""Cut a 16 kHz mono WAV into 1–15 s utterances with webrtcvad.

Frames are classified by webrtcvad and smoothed with a padding window; speech runs longer than the
maximum are split at their quietest pause, and pieces shorter than the minimum are merged into a
close neighbour or dropped. Only per-frame flags and energies are kept, so memory stays small.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from provoice.errors import FileRejected

MERGE_GAP_S = 1.0


@dataclass
class Segmentation:
    segments: list[tuple[float, float]]
    noise_floor_dbfs: float
    speech_ratio: float

    def to_dict(self) -> dict:
        return {
            "segments": [{"start": round(a, 3), "end": round(b, 3)} for a, b in self.segments],
            "noise_floor_dbfs": round(self.noise_floor_dbfs, 2),
            "speech_ratio": round(self.speech_ratio, 4),
        }


def frame_flags(path: str | Path, aggressiveness: int, frame_ms: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-frame speech flags and energies (dBFS) of a 16 kHz mono 16-bit WAV."""
    import webrtcvad  # the `train` extra's: the API imports this module with consent, and serves without it

    vad = webrtcvad.Vad(aggressiveness)
    flags: list[bool] = []
    energies: list[float] = []
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        if rate not in (8000, 16000, 32000, 48000) or w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise FileRejected(f"VAD needs mono 16-bit PCM at 16 kHz, got {rate} Hz")
        n = rate * frame_ms // 1000
        while True:
            raw = w.readframes(n)
            if len(raw) < 2 * n:
                break
            flags.append(vad.is_speech(raw, rate))
            x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
            energies.append(10 * np.log10(np.mean(x * x) + 1e-12))
    return np.asarray(flags, dtype=bool), np.asarray(energies, dtype=np.float32), rate


def _regions(flags: np.ndarray, pad_frames: int) -> list[tuple[int, int]]:
    """Hysteresis over a ring of `pad_frames`: start at 60 % voiced, stop at 90 % unvoiced."""
    out: list[tuple[int, int]] = []
    start = None
    w = max(pad_frames, 1)
    voiced = np.convolve(flags.astype(np.int32), np.ones(w, dtype=np.int32))[: len(flags)]
    for i in range(len(flags)):
        count = voiced[i]
        if start is None and count > 0.6 * w:
            start = max(0, i - w + 1)
        elif start is not None and (w - count) > 0.9 * w:
            out.append((start, i - w + 1 + int(np.ceil(0.1 * w))))
            start = None
    if start is not None:
        out.append((start, len(flags)))
    return [(a, b) for a, b in out if b > a]


def _split_long(a: int, b: int, energy: np.ndarray, min_f: int, max_f: int) -> list[tuple[int, int]]:
    """Split [a, b) at its quietest stretch until every piece is at most `max_f` frames."""
    if b - a <= max_f:
        return [(a, b)]
    lo, hi = a + min_f, b - min_f
    if hi <= lo:
        lo, hi = a + (b - a) // 2, a + (b - a) // 2 + 1
    smooth = np.convolve(energy[a:b], np.ones(5) / 5, mode="same")
    cut = lo + int(np.argmin(smooth[lo - a : hi - a]))
    return _split_long(a, cut, energy, min_f, max_f) + _split_long(cut, b, energy, min_f, max_f)


def _merge_short(pieces: list[tuple[int, int]], min_f: int, max_f: int, gap_f: int) -> list[tuple[int, int]]:
    """Join pieces shorter than `min_f` to a close neighbour when the union still fits."""
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        if out and (b - a < min_f or out[-1][1] - out[-1][0] < min_f):
            pa, pb = out[-1]
            if a - pb <= gap_f and b - pa <= max_f:
                out[-1] = (pa, b)
                continue
        out.append((a, b))
    return [(a, b) for a, b in out if b - a >= min_f]


def segment(
    path: str | Path,
    *,
    aggressiveness: int = 2,
    frame_ms: int = 30,
    padding_ms: int = 200,
    min_s: float = 1.0,
    max_s: float = 15.0,
) -> Segmentation:
    """Utterance boundaries in seconds, plus the noise floor measured outside speech."""
    flags, energy, _ = frame_flags(path, aggressiveness, frame_ms)
    fs = frame_ms / 1000.0
    pad_f = max(1, padding_ms // frame_ms)
    min_f, max_f = int(np.ceil(min_s / fs)), int(max_s / fs) - 2 * pad_f
    pieces: list[tuple[int, int]] = []
    for a, b in _regions(flags, pad_f):
        pieces.extend(_split_long(a, b, energy, min_f, max_f))
    pieces = _merge_short(pieces, min_f, max_f, int(MERGE_GAP_S / fs))
    total = len(flags) * fs
    bounds: list[tuple[float, float]] = []
    for i, (a, b) in enumerate(pieces):
        left = pieces[i - 1][1] if i else 0
        right = pieces[i + 1][0] if i + 1 < len(pieces) else len(flags)
        start = max(a - pad_f, (left + a) / 2 if i else 0)
        end = min(b + pad_f, (b + right) / 2 if i + 1 < len(pieces) else len(flags))
        bounds.append((start * fs, min(end * fs, total)))
    mask = np.zeros(len(flags), dtype=bool)
    for a, b in pieces:
        mask[a:b] = True
    quiet = energy[~mask] if (~mask).any() else np.sort(energy)[: max(1, len(energy) // 20)]
    noise = float(np.median(quiet)) if quiet.size else -120.0
    speech_ratio = float(mask.mean()) if len(mask) else 0.0
    return Segmentation(bounds, max(noise, -120.0), speech_ratio)
