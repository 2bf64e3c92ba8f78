"""Transcribe VAD segments in batches, keeping Whisper's own confidence signals per segment.

The model is loaded once per process and shared by every task in it; segments are read from the
16 kHz view a group at a time, so memory follows the batch size and not the file length.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from provoice.audio.wavio import read_slice

SAMPLE_RATE = 16000
GROUPS_PER_CALL = 4


@dataclass
class Transcript:
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float

    def to_dict(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=4)
def load_model(model_path: str, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0):
    """One WhisperModel per (path, device, precision, threads) in this process."""
    from faster_whisper import WhisperModel

    threads = cpu_threads or os.cpu_count() or 1
    if device == "cuda" and compute_type == "int8":
        compute_type = "int8_float16"
    return WhisperModel(model_path, device=device, compute_type=compute_type, cpu_threads=threads)


def _decode_options(beam_size: int) -> dict:
    """Decoding settings shared by the batched path and the per-segment baseline."""
    return dict(language="en", beam_size=beam_size, temperature=0.0, without_timestamps=True,
                condition_on_previous_text=False, vad_filter=False)


def transcribe_segments(model, wav16: str | Path, segments: list[tuple[float, float]], *,
                        beam_size: int = 1, batch_size: int = 8) -> list[Transcript]:
    """One transcript per segment, in order, batching segments through Whisper's encoder."""
    from faster_whisper import BatchedInferencePipeline

    pipeline = BatchedInferencePipeline(model)
    out: list[Transcript] = []
    step = max(1, batch_size * GROUPS_PER_CALL)
    for g in range(0, len(segments), step):
        group = segments[g:g + step]
        pieces = [read_slice(wav16, a, b) for a, b in group]
        clips, offset = [], 0
        for p in pieces:
            clips.append({"start": offset / SAMPLE_RATE, "end": (offset + len(p)) / SAMPLE_RATE})
            offset += len(p)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        result, _ = pipeline.transcribe(audio, clip_timestamps=clips, batch_size=batch_size,
                                        **_decode_options(beam_size))
        by_seek: dict[int, list] = {}
        for s in result:
            by_seek.setdefault(s.seek, []).append(s)
        for clip in clips:
            parts = by_seek.get(int(clip["start"] * model.frames_per_second), [])
            out.append(_join(parts))
    return out


def transcribe_one(model, audio: np.ndarray, *, beam_size: int = 1) -> Transcript:
    """The unbatched path: one Whisper call for one segment (baseline for the benchmark)."""
    parts, _ = model.transcribe(audio, **_decode_options(beam_size))
    return _join(list(parts))


def _join(parts: list) -> Transcript:
    if not parts:
        return Transcript("", -10.0, 1.0, 0.0)
    text = " ".join(p.text.strip() for p in parts).strip()
    return Transcript(
        text=text,
        avg_logprob=float(min(p.avg_logprob for p in parts)),
        no_speech_prob=float(max(p.no_speech_prob for p in parts)),
        compression_ratio=float(max(p.compression_ratio for p in parts)),
    )
