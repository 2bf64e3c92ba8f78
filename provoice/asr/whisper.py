"""Transcribe VAD segments in batches, keeping Whisper's own confidence signals per segment.

The model is loaded once per process and shared by every task in it; segments are read from the
16 kHz view a group at a time, so memory follows the batch size and not the file length.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from provoice.audio.wavio import read_slice
from provoice.loading import once_per_process

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


@once_per_process(maxsize=4)
def load_model(model_path: str, device: str = "cpu", compute_type: str = "int8", cpu_threads: int = 0):
    """One WhisperModel per (path, device, precision, threads) in this process."""
    from faster_whisper import WhisperModel

    threads = cpu_threads or os.cpu_count() or 1
    if device == "cuda" and compute_type == "int8":
        compute_type = "int8_float16"
    return WhisperModel(model_path, device=device, compute_type=compute_type, cpu_threads=threads)


def _decode_options(beam_size: int) -> dict:
    """Decoding settings shared by the batched path and the per-segment baseline."""
    return dict(
        language="en",
        beam_size=beam_size,
        temperature=0.0,
        without_timestamps=True,
        condition_on_previous_text=False,
        vad_filter=False,
    )


def transcribe_segments(
    model,
    wav16: str | Path,
    segments: list[tuple[float, float]],
    *,
    beam_size: int = 1,
    batch_size: int = 8,
    trim_window: bool = True,
) -> list[Transcript]:
    """One transcript per segment, in order, batching segments through Whisper's encoder.

    Whisper pads every input to a 30 s window, yet our segments last 1–15 s. With `trim_window`
    segments are batched by length and each batch is encoded over its longest member plus one
    second (CTranslate2 accepts shorter windows), which cuts encoder work several-fold while the
    transcripts stay as accurate (see docs/BENCHMARKS.md). Without it, faster-whisper's
    `BatchedInferencePipeline` runs the standard padded path.
    """
    if not trim_window:
        return _pipeline_batches(model, wav16, segments, beam_size, batch_size)
    order = sorted(range(len(segments)), key=lambda i: segments[i][1] - segments[i][0])
    out: list[Transcript | None] = [None] * len(segments)
    decoder = _TrimmedDecoder(model, beam_size)
    for g in range(0, len(order), batch_size):
        idx = order[g : g + batch_size]
        texts = decoder([read_slice(wav16, *segments[i]) for i in idx])
        for i, t in zip(idx, texts):
            out[i] = t
    return [t for t in out if t is not None]


class _TrimmedDecoder:
    """Greedy or beam decoding over an encoder window sized to the batch, not to 30 s."""

    MARGIN_FRAMES = 100

    def __init__(self, model, beam_size: int):
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model, self.beam_size = model, beam_size
        self.tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
        self.prompt = model.get_prompt(self.tokenizer, [], without_timestamps=True)
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])

    def __call__(self, pieces: list[np.ndarray]) -> list[Transcript]:
        import ctranslate2
        from faster_whisper.transcribe import get_compression_ratio

        feats = [self.model.feature_extractor(p)[..., :-1] for p in pieces]
        longest = max(f.shape[1] for f in feats) + self.MARGIN_FRAMES
        frames = min(3000, int(np.ceil(longest / 100) * 100))
        batch = np.zeros((len(feats), feats[0].shape[0], frames), dtype=np.float32)
        for i, f in enumerate(feats):
            batch[i, :, : min(frames, f.shape[1])] = f[:, :frames]
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(batch))
        results = self.model.model.generate(
            encoded,
            [list(self.prompt) for _ in feats],
            beam_size=self.beam_size,
            max_length=self.model.max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress,
        )
        out = []
        for r in results:
            ids = [t for t in r.sequences_ids[0] if t < self.tokenizer.eot]
            text = self.tokenizer.decode(ids).strip()
            n = len(r.sequences_ids[0])
            out.append(
                Transcript(
                    text=text,
                    avg_logprob=float(r.scores[0] * n / (n + 1)),
                    no_speech_prob=float(r.no_speech_prob),
                    compression_ratio=float(get_compression_ratio(text)) if text else 0.0,
                )
            )
        return out


def _pipeline_batches(
    model, wav16: str | Path, segments: list[tuple[float, float]], beam_size: int, batch_size: int
) -> list[Transcript]:
    from faster_whisper import BatchedInferencePipeline

    pipeline = BatchedInferencePipeline(model)
    out: list[Transcript] = []
    step = max(1, batch_size * GROUPS_PER_CALL)
    for g in range(0, len(segments), step):
        group = segments[g : g + step]
        pieces = [read_slice(wav16, a, b) for a, b in group]
        clips, offset = [], 0
        for p in pieces:
            clips.append({"start": offset / SAMPLE_RATE, "end": (offset + len(p)) / SAMPLE_RATE})
            offset += len(p)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        result, _ = pipeline.transcribe(
            audio, clip_timestamps=clips, batch_size=batch_size, **_decode_options(beam_size)
        )
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
