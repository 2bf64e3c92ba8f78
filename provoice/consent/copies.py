"""Is a recording a cut of a dataset file? Normalised cross-correlation of its loudest short
windows against each file's 16 kHz view, block by block through the FFT, so hours of audio are
searched in seconds with bounded memory. A new reading of other words by the same speaker
correlates near 0; a cut, even re-encoded or re-levelled, near 1. (numpy does this directly;
no library covers "find this clip inside that file" without loading the whole file.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from provoice.audio.wavio import iter_blocks

RATE = 8000
WINDOW_S = 1.5
WINDOWS = 3
MATCH = 0.8


@dataclass(frozen=True)
class Match:
    source: str
    at_s: float
    correlation: float


def _to_8k(x16: np.ndarray) -> np.ndarray:
    n = x16.size // 2 * 2
    return x16[:n].reshape(-1, 2).mean(axis=1).astype(np.float32)


def probe_windows(x16: np.ndarray) -> list[np.ndarray]:
    """The loudest non-overlapping windows of the recording, zero-mean."""
    x = _to_8k(x16)
    length = int(WINDOW_S * RATE)
    if x.size < length:
        return [x - x.mean()] if x.size > RATE // 4 else []
    starts = range(0, x.size - length + 1, length)
    ranked = sorted(starts, key=lambda s: -float(np.sum(x[s : s + length] ** 2)))
    return [x[s : s + length] - x[s : s + length].mean() for s in ranked[:WINDOWS]]


def _blocks_8k(wav16: Path, frames_8k: int):
    for chunk in iter_blocks(wav16, 2 * frames_8k):
        yield _to_8k(chunk.astype(np.float32) / 32768.0)


def best_match(windows: list[np.ndarray], wav16: Path, nfft: int = 1 << 20) -> tuple[float, float]:
    """(highest correlation of any window anywhere in the file, its time in seconds)."""
    if not windows:
        return 0.0, 0.0
    length = max(w.size for w in windows)
    nfft = max(nfft, 1 << int(np.ceil(np.log2(2 * length))))
    spectra = [np.conj(np.fft.rfft(w / (np.linalg.norm(w) + 1e-9), nfft)) for w in windows]
    best = [0.0, 0.0]

    def scan(seg: np.ndarray, offset: int) -> None:
        f = np.fft.rfft(seg, nfft)
        energy = np.concatenate([[0.0], np.cumsum(seg.astype(np.float64) ** 2)])
        for w, spec in zip(windows, spectra):
            valid = seg.size - w.size + 1
            if valid <= 0:
                continue
            corr = np.fft.irfft(f * spec, nfft)[:valid]
            ncc = corr / np.sqrt(np.maximum(energy[w.size : w.size + valid] - energy[:valid], 1e-4 * w.size))
            i = int(np.argmax(ncc))
            if ncc[i] > best[0]:
                best[:] = [float(ncc[i]), (offset + i) / RATE]

    step = nfft - length + 1
    buf, offset = np.zeros(0, np.float32), 0
    for piece in _blocks_8k(wav16, step):
        buf = np.concatenate([buf, piece])
        while buf.size >= nfft:
            scan(buf[:nfft], offset)
            buf, offset = buf[step:], offset + step
    if buf.size:
        scan(buf, offset)
    return best[0], best[1]


def find_cut(x16: np.ndarray, sources: Iterable[tuple[str, Path]]) -> Match | None:
    """The first source (name, 16 kHz WAV) the recording was cut from, or None."""
    windows = probe_windows(x16)
    for name, wav16 in sources:
        corr, at = best_match(windows, wav16)
        if corr >= MATCH:
            return Match(name, round(at, 1), round(corr, 3))
    return None
