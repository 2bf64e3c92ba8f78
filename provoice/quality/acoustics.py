"""What the recording conditions did to one segment: bandwidth, flat-topped peaks, crushed dynamics,
reverberation and sound under the speech, each a number a threshold in `Settings` can judge.

Every measure reads the training-rate audio only (the original rate is gone by then), so each is
chosen to survive resampling: a phone's band edge, how many samples crowd the segment's peak (a
plateau smeared by the resampler still leaves many there), the peak against the speech's RMS, the
slope of the envelope's free decays, and the level and tonality of the quietest moments.
"""

from __future__ import annotations

import numpy as np

#: Analysis frames of about 46 ms at 22.05 kHz: long enough for a smooth spectrum of short segments.
FFT_SIZE = 1024
#: Spectral levels this far below the speech band's strongest still count as content.
BANDWIDTH_RANGE_DB = 50.0
#: A sample this close to the segment's peak level sits "at the peak".
NEAR_PEAK = 0.9
PEAK_PERCENTILE = 99.9
#: The quietest frames of a segment (this fraction) are its gaps: between words and breaths.
GAP_FRACTION = 0.15
#: Decay fitting: a 20 ms envelope every 10 ms; a free decay lasts at least 80 ms and falls 8 dB,
#: staying 5 dB above the local floor; fewer than `MIN_DECAYS` of them give no estimate.
ENVELOPE_HOP_S = 0.01
MIN_DECAY_FRAMES = 8
MIN_DECAY_DB = 8.0
MIN_DECAYS = 3
#: A decay goes on while the envelope stays within this of its lowest point so far (a reverberant
#: tail is noise-like and flickers by a dB or so).
RISE_DB = 1.5


def _frames(x: np.ndarray, n: int) -> np.ndarray:
    return x[: x.size // n * n].reshape(-1, n) if x.size >= n else np.pad(x, (0, n - x.size)).reshape(1, n)


def _db(power: np.ndarray | float) -> np.ndarray:
    return 10 * np.log10(np.asarray(power) + 1e-20)


def effective_bandwidth_hz(power: np.ndarray, rate: int) -> float:
    """The highest frequency whose level is within `BANDWIDTH_RANGE_DB` of the speech band's (300–3,000
    Hz) strongest: about 3.4–4 kHz for a phone or an 8 kHz source, 7 kHz and more for a microphone."""
    freqs = np.fft.rfftfreq(FFT_SIZE, 1 / rate)
    level = _db(power)
    reference = np.percentile(level[(freqs > 300) & (freqs < 3000)], 90)
    above = np.nonzero(level > reference - BANDWIDTH_RANGE_DB)[0]
    return float(freqs[above.max()]) if above.size else 0.0


def flat_peak_fraction(x: np.ndarray) -> float:
    """The fraction of samples within 10 % of the segment's peak level (its 99.9th percentile, so
    a resampler's overshoot at a clipped edge does not set it). Speech reaches that level on a few
    crests (about 0.2 % of samples); a clipped take sits there on every loud cycle."""
    a = np.abs(x)
    peak = float(np.percentile(a, PEAK_PERCENTILE))
    return float(np.count_nonzero(a >= NEAR_PEAK * peak)) / x.size if peak > 0 else 0.0


def crest_factor_db(x: np.ndarray, frame_energy: np.ndarray) -> float:
    """The peak over the RMS of the louder half of frames: 14–20 dB for speech, under 10 dB when a
    limiter has pressed every syllable to the same ceiling."""
    loud = frame_energy[frame_energy >= np.median(frame_energy)]
    return float(20 * np.log10(np.max(np.abs(x)) + 1e-12) - _db(np.mean(loud)))


def decay_time_s(x: np.ndarray, rate: int, noise_floor_dbfs: float) -> float | None:
    """A blind reverberation time (T60): the median slope of the energy envelope's free decays.

    Where speech stops, the sound dies away no faster than the room lets it, so the decays after
    syllables fall at about the room's rate in a reverberant room and faster in a dry one (0.2–0.45 s
    measured on dry speech). None when the segment has too few decays to tell."""
    hop = int(ENVELOPE_HOP_S * rate)
    power = np.mean(_frames(x, hop) ** 2, axis=1)
    if power.size < 2 * MIN_DECAY_FRAMES:
        return None
    envelope = _db(np.convolve((power[:-1] + power[1:]) / 2, np.ones(3) / 3, mode="same"))
    floor = max(noise_floor_dbfs, float(np.percentile(envelope, 10))) + 5.0
    times: list[float] = []
    i = 0
    while i < envelope.size - 1:
        j = i
        low = envelope[i]
        while j + 1 < envelope.size and envelope[j + 1] <= low + RISE_DB and envelope[j + 1] > floor:
            j += 1
            low = min(low, envelope[j])
        if j - i >= MIN_DECAY_FRAMES and envelope[i] - envelope[j] >= MIN_DECAY_DB:
            slope = np.polyfit(np.arange(i, j + 1) * ENVELOPE_HOP_S, envelope[i : j + 1], 1)[0]
            if slope < 0:
                times.append(-60.0 / slope)
        i = j + 1
    return float(np.median(times)) if len(times) >= MIN_DECAYS else None


def background(frame_energy: np.ndarray, power: np.ndarray, rate: int, top_hz: float) -> tuple[float, float]:
    """(how far the gaps' sound sits under the speech in dB, its spectral flatness from 100 Hz to
    `top_hz`: 6 kHz or the segment's bandwidth, whichever is lower).

    A quiet room leaves the gaps 30 dB and more under the speech; music or a crowd fills them.
    Flatness tells which: near 0 for tones (music, hum), 0.15 and more for noise and voices.
    """
    order = np.sort(frame_energy)
    speech = _db(np.mean(order[order.size // 2 :]))
    quiet = frame_energy <= np.quantile(frame_energy, GAP_FRACTION)
    gap_power = power[quiet].mean(axis=0)
    freqs = np.fft.rfftfreq(FFT_SIZE, 1 / rate)
    band = gap_power[(freqs > 100) & (freqs < max(top_hz, 1000.0))] + 1e-20
    flatness = float(np.exp(np.mean(np.log(band))) / np.mean(band))
    return float(speech - _db(np.mean(frame_energy[quiet]))), flatness


def acoustic_metrics(x: np.ndarray, rate: int, *, noise_floor_dbfs: float) -> dict:
    """The recording-condition metrics of float samples `x` at `rate` (see the module's docstring)."""
    if x.size < FFT_SIZE:
        return {}
    frames = _frames(x.astype(np.float64), FFT_SIZE)
    energy = np.mean(frames**2, axis=1) + 1e-20
    power = np.abs(np.fft.rfft(frames * np.hanning(FFT_SIZE), axis=1)) ** 2
    bandwidth = effective_bandwidth_hz(power[energy >= np.median(energy)].mean(axis=0), rate)
    background_db, flatness = background(energy, power, rate, min(bandwidth, 6000.0))
    decay = decay_time_s(x, rate, noise_floor_dbfs)
    return {
        "bandwidth_hz": round(bandwidth),
        "flat_peak_fraction": round(flat_peak_fraction(x), 5),
        "crest_factor_db": round(crest_factor_db(x, energy), 2),
        "decay_time_s": None if decay is None else round(decay, 2),
        "background_db": round(background_db, 2),
        "background_flatness": round(flatness, 4),
    }
