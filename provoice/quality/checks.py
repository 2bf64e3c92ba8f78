"""Accept, warn about or reject one segment from its signal and transcript metrics.

A reason or warning starts with its category ("telephone-band audio: ..."), which the report sums
per file; a rejection says what is wrong, a warning also says what training on the segment will do.
"""

from __future__ import annotations

import re

from provoice.settings import Settings

TELEPHONE_BAND = "telephone-band audio"
NARROW_BAND = "narrow-band audio"
CLIPPING = "clipping"
CRUSHED = "crushed dynamics"
HEAVY_REVERB = "heavy reverberation"
LIGHT_REVERB = "light reverberation"
MUSIC = "music under the speech"
NOISY = "noisy"
NO_SPEECH = "no speech"
DIFFERENT_SPEAKER = "different speaker"

#: A transcript that only annotates a sound: "[Music]", "(applause)", "♪ ♪".
_ANNOTATION_ONLY = re.compile(r"^[\s.,!*#-]*(?:(?:\[[^\]]*\]|\([^)]*\)|[♪♫♬])[\s.,!*#-]*)+$")


def spoken_chars(text: str) -> int:
    return len(re.sub(r"[^\w]", "", text))


def _tonal_background(m: dict, s: Settings) -> bool:
    return m.get("background_flatness", 1.0) < s.max_tonal_flatness


def rejection_reason(m: dict, s: Settings) -> str | None:
    """The first failed check as a user-readable reason, or None when the segment is good."""
    d = m["duration"]
    if d < s.min_segment_s or d > s.max_segment_s:
        return f"duration {d:.1f} s outside {s.min_segment_s:g}–{s.max_segment_s:g} s"
    if m["no_speech_prob"] > s.max_no_speech_prob:
        return f"{NO_SPEECH}: ASR no-speech probability {m['no_speech_prob']:.2f}"
    text = m.get("text", "").strip()
    if text and _ANNOTATION_ONLY.match(text):
        return f"{NO_SPEECH}: the transcript only names a sound ({text[:40]})"
    if m["clip_fraction"] > s.max_clip_fraction:
        return f"{CLIPPING}: {100 * m['clip_fraction']:.2f}% of samples at full scale"
    if m.get("flat_peak_fraction", 0.0) > s.max_flat_peak_fraction:
        return f"{CLIPPING}: {100 * m['flat_peak_fraction']:.2f}% of samples on flat-topped peaks"
    if m.get("crest_factor_db", 99.0) < s.min_crest_factor_db:
        return (
            f"{CRUSHED}: peaks only {m['crest_factor_db']:.1f} dB above the speech level "
            f"(under {s.min_crest_factor_db:g} dB; a limiter or compressor flattened them)"
        )
    if m["level_dbfs"] < s.min_level_dbfs:
        return f"too quiet: level {m['level_dbfs']:.0f} dBFS below {s.min_level_dbfs:g} dBFS"
    if m.get("bandwidth_hz", s.sample_rate) < s.min_bandwidth_hz:
        return (
            f"{TELEPHONE_BAND}: content stops near {m['bandwidth_hz'] / 1000:.1f} kHz "
            f"(under {s.min_bandwidth_hz / 1000:g} kHz), as over a phone line or from an 8 kHz recorder"
        )
    if (m.get("decay_time_s") or 0.0) > s.max_decay_time_s:
        return f"{HEAVY_REVERB}: estimated decay time {m['decay_time_s']:.2f} s above {s.max_decay_time_s:g} s"
    if _tonal_background(m, s) and m.get("background_db", 99.0) < s.min_music_db:
        return f"{MUSIC}: music or tones {m['background_db']:.0f} dB under the speech (needs {s.min_music_db:g} dB)"
    if m["snr_db"] < s.min_snr_db:
        return f"{NOISY}: estimated SNR {m['snr_db']:.0f} dB below {s.min_snr_db:g} dB"
    if not spoken_chars(text):
        return "empty transcript"
    if m["compression_ratio"] > s.max_compression_ratio:
        return f"repetitive transcript (compression ratio {m['compression_ratio']:.1f}, likely hallucination)"
    if m["avg_logprob"] < s.min_avg_logprob:
        return f"low transcription confidence (avg log-prob {m['avg_logprob']:.2f})"
    cps = spoken_chars(text) / d
    if not s.min_chars_per_second <= cps <= s.max_chars_per_second:
        return f"implausible transcript: {cps:.1f} characters per second"
    return None


def segment_warnings(m: dict, s: Settings) -> list[str]:
    """What a kept segment carries that training will learn too, each with what it will do."""
    out = []
    if m.get("bandwidth_hz", s.sample_rate) < s.warn_bandwidth_hz:
        out.append(
            f"{NARROW_BAND}: content stops near {m['bandwidth_hz'] / 1000:.1f} kHz; the voice will sound muffled"
        )
    if (m.get("decay_time_s") or 0.0) > s.warn_decay_time_s:
        out.append(
            f"{LIGHT_REVERB}: estimated decay time {m['decay_time_s']:.2f} s; the voice will carry the room's echo"
        )
    if _tonal_background(m, s) and m.get("background_db", 99.0) < s.warn_music_db:
        out.append(
            f"{MUSIC}: music or tones {m['background_db']:.0f} dB under the speech; the voice may learn to reproduce it"
        )
    return out
