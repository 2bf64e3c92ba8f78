import numpy as np
import pytest

from provoice.quality.checks import rejection_reason, segment_warnings
from provoice.quality.signal import signal_metrics
from provoice.quality.speaker import dominant_speaker, similarities
from provoice.settings import Settings

GOOD = {
    "duration": 4.0,
    "level_dbfs": -20.0,
    "peak_dbfs": -2.0,
    "clip_fraction": 0.0,
    "snr_db": 40.0,
    "text": "The weather was bright and clear today.",
    "avg_logprob": -0.3,
    "no_speech_prob": 0.05,
    "compression_ratio": 1.1,
}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({}, None),
        ({"duration": 0.5}, "duration 0.5 s outside 1–15 s"),
        ({"duration": 20.0}, "duration 20.0 s outside"),
        ({"clip_fraction": 0.05}, "clipping: 5.00% of samples"),
        ({"level_dbfs": -60.0}, "too quiet"),
        ({"snr_db": 5.0}, "noisy: estimated SNR 5 dB"),
        ({"no_speech_prob": 0.9}, "no speech: ASR no-speech probability 0.90"),
        ({"text": " ... "}, "empty transcript"),
        ({"compression_ratio": 3.5}, "repetitive transcript"),
        ({"avg_logprob": -1.6}, "low transcription confidence"),
        ({"text": "ok"}, "implausible transcript: 0.5 characters per second"),
        ({"text": "word " * 60}, "implausible transcript"),
        ({"text": "[Music]"}, "no speech: the transcript only names a sound"),
        ({"text": "♪ ♪"}, "no speech: the transcript only names a sound"),
        ({"flat_peak_fraction": 0.05}, "clipping: 5.00% of samples on flat-topped peaks"),
        ({"crest_factor_db": 9.0}, "crushed dynamics: peaks only 9.0 dB above the speech level"),
        ({"bandwidth_hz": 3900}, "telephone-band audio: content stops near 3.9 kHz"),
        ({"decay_time_s": 1.4}, "heavy reverberation: estimated decay time 1.40 s"),
        ({"background_db": 16.0, "background_flatness": 0.01}, "music under the speech: music or tones 16 dB"),
        ({"background_db": 16.0, "background_flatness": 0.3, "snr_db": 16.0}, None),
        ({"decay_time_s": None, "bandwidth_hz": 8000, "crest_factor_db": 15.0}, None),
    ],
)
def test_each_check_names_its_reason(change, reason):
    got = rejection_reason({**GOOD, **change}, Settings())
    if reason is None:
        assert got is None
    else:
        assert got is not None and got.startswith(reason)


def test_signal_metrics_detect_clipping_after_gain():
    rate = 22050
    t = np.arange(rate * 2) / rate
    clean = 0.5 * np.sin(2 * np.pi * 200 * t)
    gain_db = -6.0
    clipped = np.clip(clean * 4, -32700 / 32768, 32700 / 32768) * 10 ** (gain_db / 20)
    m_clip = signal_metrics(clipped.astype(np.float32), rate, gain_db=gain_db, noise_floor_dbfs=-90)
    m_clean = signal_metrics(clean.astype(np.float32), rate, gain_db=0.0, noise_floor_dbfs=-90)
    assert m_clip["clip_fraction"] > 0.3
    assert m_clean["clip_fraction"] == 0.0
    assert m_clean["snr_db"] == 60.0


def test_dominant_speaker_ignores_a_minority_voice():
    rng = np.random.default_rng(1)
    main, other = rng.standard_normal(256), rng.standard_normal(256)
    emb = np.stack(
        [main + 0.3 * rng.standard_normal(256) for _ in range(8)]
        + [other + 0.3 * rng.standard_normal(256) for _ in range(3)]
    )
    centroid = dominant_speaker(emb, 0.75)
    sims = similarities(emb, centroid)
    assert (sims[:8] > 0.75).all() and (sims[8:] < 0.5).all()


@pytest.mark.parametrize(
    "change, warnings",
    [
        ({}, []),
        ({"bandwidth_hz": 5500}, ["narrow-band audio: content stops near 5.5 kHz; the voice will sound muffled"]),
        (
            {"decay_time_s": 0.7},
            ["light reverberation: estimated decay time 0.70 s; the voice will carry the room's echo"],
        ),
        (
            {"background_db": 23.0, "background_flatness": 0.04},
            ["music under the speech: music or tones 23 dB under the speech; the voice may learn to reproduce it"],
        ),
        ({"background_db": 23.0, "background_flatness": 0.3}, []),
    ],
)
def test_each_warning_says_what_training_will_do(change, warnings):
    assert segment_warnings({**GOOD, **change}, Settings()) == warnings
