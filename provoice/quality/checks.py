"""Accept or reject one segment from its signal and transcript metrics."""

from __future__ import annotations

import re

from provoice.settings import Settings


def spoken_chars(text: str) -> int:
    return len(re.sub(r"[^\w]", "", text))


def rejection_reason(m: dict, s: Settings) -> str | None:
    """The first failed check as a user-readable reason, or None when the segment is good."""
    d = m["duration"]
    if d < s.min_segment_s or d > s.max_segment_s:
        return f"duration {d:.1f} s outside {s.min_segment_s:g}–{s.max_segment_s:g} s"
    if m["no_speech_prob"] > s.max_no_speech_prob:
        return f"no speech: ASR no-speech probability {m['no_speech_prob']:.2f}"
    if m["clip_fraction"] > s.max_clip_fraction:
        return f"clipping: {100 * m['clip_fraction']:.2f}% of samples at full scale"
    if m["level_dbfs"] < s.min_level_dbfs:
        return f"too quiet: level {m['level_dbfs']:.0f} dBFS below {s.min_level_dbfs:g} dBFS"
    if m["snr_db"] < s.min_snr_db:
        return f"noisy: estimated SNR {m['snr_db']:.0f} dB below {s.min_snr_db:g} dB"
    text = m.get("text", "").strip()
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
