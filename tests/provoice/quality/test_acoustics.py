"""Each recording-condition metric on generated signals: what it must catch and what it must let pass."""

import numpy as np
import pytest

from provoice.audio.resample import resample
from provoice.quality.acoustics import acoustic_metrics
from provoice.recordings import brick_wall, hard_clip, music, reverberate, telephone
from provoice.settings import Settings

RATE = 22050


def syllables(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Speech-like: voiced bursts of 120–300 ms on a gliding pitch with a breath of noise, each at its
    own level, separated by short pauses, at about -20 dBFS."""
    rng = np.random.default_rng(seed)
    out, t = [], 0.0
    while t < seconds:
        n = int(rng.uniform(0.12, 0.3) * RATE)
        f0 = rng.uniform(100, 160) * np.linspace(1.0, rng.uniform(0.85, 1.15), n)
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        voiced = sum(np.sin(k * phase + rng.uniform(0, 6)) / k for k in range(1, 30))
        burst = (voiced + 0.3 * rng.standard_normal(n)) * np.hanning(n) * rng.uniform(0.3, 1.0)
        gap = np.zeros(int(rng.uniform(0.05, 0.25) * RATE))
        out += [burst, gap]
        t += (n + gap.size) / RATE
    x = np.concatenate(out)
    x = x / np.sqrt(np.mean(x**2)) * 0.1
    return x + 10 ** (-65 / 20) * rng.standard_normal(x.size)


def metrics(x: np.ndarray, floor: float = -65.0) -> dict:
    return acoustic_metrics(x.astype(np.float32), RATE, noise_floor_dbfs=floor)


@pytest.fixture(scope="module")
def clean():
    return syllables()


def test_clean_speech_passes_every_measure(clean):
    m = metrics(clean)
    assert m["bandwidth_hz"] > 8000
    assert m["flat_peak_fraction"] < 0.005
    assert m["crest_factor_db"] > 13
    assert m["decay_time_s"] is None or m["decay_time_s"] < 0.5
    assert m["background_db"] > 30


def test_bandwidth_finds_a_phone_line(clean):
    phone, rate = telephone(clean)
    assert metrics(resample(phone, rate, RATE))["bandwidth_hz"] < Settings().min_bandwidth_hz


def test_flat_topped_peaks_survive_resampling(clean):
    clipped = resample(hard_clip(resample(clean, RATE, 44100), 12.0), 44100, RATE)
    clipped = 0.8 * clipped / np.max(np.abs(clipped))  # nothing at full scale: only the plateaus tell
    assert metrics(clipped)["flat_peak_fraction"] > Settings().max_flat_peak_fraction


def test_a_brick_wall_limiter_crushes_the_crest_factor_without_clipping(clean):
    limited = brick_wall(clean, 20.0)
    m = metrics(limited)
    assert np.max(np.abs(limited)) < 0.9
    assert m["crest_factor_db"] < Settings().min_crest_factor_db
    assert m["flat_peak_fraction"] < Settings().max_flat_peak_fraction


def test_decay_time_tells_a_reverberant_hall_from_a_room(clean):
    rng = np.random.default_rng(1)
    room = metrics(reverberate(clean, 0.3, rng, 8.0))["decay_time_s"]
    hall = metrics(reverberate(clean, 1.4, rng, -4.0))["decay_time_s"]
    assert room is not None and room < 0.55
    assert hall is not None and hall > 1.0


def test_background_tells_music_from_noise(clean):
    rng = np.random.default_rng(2)
    bed = music(clean.size / RATE, rng)[: clean.size]
    with_music = metrics(clean + bed / np.sqrt(np.mean(bed**2)) * 0.1 * 10 ** (-14 / 20))
    with_noise = metrics(clean + rng.standard_normal(clean.size) * 0.1 * 10 ** (-14 / 20))
    s = Settings()
    assert with_music["background_db"] < s.warn_music_db and with_music["background_flatness"] < s.max_tonal_flatness
    assert with_noise["background_db"] < s.warn_music_db and with_noise["background_flatness"] > 0.2
