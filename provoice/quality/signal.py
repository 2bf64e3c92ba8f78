"""Signal metrics of one segment: level, clipping and an SNR estimate against the file's noise floor."""

from __future__ import annotations

import numpy as np

from provoice.audio.convert import CLIP_LEVEL

FRAME_S = 0.03
MAX_SNR_DB = 60.0


def signal_metrics(x: np.ndarray, rate: int, *, gain_db: float, noise_floor_dbfs: float) -> dict:
    """Metrics of float samples `x`; `gain_db` is the normalising gain already applied to them."""
    if x.size == 0:
        return {"level_dbfs": -120.0, "peak_dbfs": -120.0, "clip_fraction": 0.0, "snr_db": 0.0}
    rms = float(np.sqrt(np.mean(x * x)))
    peak = float(np.max(np.abs(x)))
    clip_at = CLIP_LEVEL / 32768.0 * 10 ** (gain_db / 20) * 0.999
    clip_fraction = float(np.count_nonzero(np.abs(x) >= clip_at)) / x.size
    n = int(FRAME_S * rate)
    frames = x[: (x.size // n) * n].reshape(-1, n) if x.size >= n else x.reshape(1, -1)
    energy = np.sort(10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12))
    speech_db = 10 * np.log10(np.mean(10 ** (energy[len(energy) // 2 :] / 10)))
    snr = min(MAX_SNR_DB, float(speech_db - noise_floor_dbfs))
    return {
        "level_dbfs": round(float(20 * np.log10(rms + 1e-12)), 2),
        "peak_dbfs": round(float(20 * np.log10(peak + 1e-12)), 2),
        "clip_fraction": round(clip_fraction, 5),
        "snr_db": round(snr, 2),
    }
