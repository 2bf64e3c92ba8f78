"""Transcribe VAD segments in batches, keeping Whisper's own confidence signals per segment.

The model is loaded once per process and shared by every task in it; segments are read from the
16 kHz view a group at a time, so memory follows the batch size and not the file length.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from provoice.asr.confidence import segment_accuracy
from provoice.audio.wavio import read_slice
from provoice.loading import once_per_process

SAMPLE_RATE = 16000
#: Whisper's input: 30 s of log-mel frames at 100 a second.
FULL_WINDOW_FRAMES = 3000
#: English speech stays well under 8 tokens a second; a decode allowed this many per second of audio
#: (plus a few) never cuts real words, and a decode that reaches the cap is a loop.
MAX_TOKENS_PER_SECOND = 12
MAX_TOKENS_SLACK = 16
#: Whisper's own sign of a repetition loop (its temperature fallback uses the same threshold).
LOOP_COMPRESSION_RATIO = 2.4
#: A run of this many words said twice in one segment: a loop that stopped early (read aloud, it is rare).
LOOP_WORDS = 5


@dataclass
class Transcript:
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    #: Estimated share of words transcribed right (provoice.asr.confidence); None where the decoder
    #: gives no token probabilities (beam search).
    transcript_accuracy: float | None = None

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
    """Decoding settings of the per-segment baseline (`transcribe_one`)."""
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
    window_margin_s: float = 6.0,
    retry_loops: bool = True,
) -> list[Transcript]:
    """One transcript per segment, in order, batching segments through Whisper's encoder.

    Whisper pads every input to a 30 s window, yet our segments last 1–15 s. With `trim_window`
    segments are batched by length and each batch is encoded over its longest member plus
    `window_margin_s` (CTranslate2 accepts shorter windows), which cuts encoder work several-fold.
    Whisper never saw short windows in training, and one that ends soon after the speech can make
    it repeat the sentence until its token limit (docs/BENCHMARKS.md, transcript accuracy): a
    segment whose decode loops is decoded again over the full 30 s window (`retry_loops`).
    """
    order = sorted(range(len(segments)), key=lambda i: segments[i][1] - segments[i][0])
    out: list[Transcript | None] = [None] * len(segments)
    decoder = _BatchDecoder(model, beam_size, cap_tokens=retry_loops)
    margin = round(window_margin_s * 100) if trim_window else FULL_WINDOW_FRAMES
    for g in range(0, len(order), batch_size):
        idx = order[g : g + batch_size]
        pieces = [read_slice(wav16, *segments[i]) for i in idx]
        texts = decoder(pieces, margin)
        loops = [k for k, t in enumerate(texts) if t.looped] if trim_window and retry_loops else []
        if loops:
            for k, t in zip(loops, decoder([pieces[k] for k in loops], FULL_WINDOW_FRAMES)):
                texts[k] = t
        for i, t in zip(idx, texts):
            out[i] = t.transcript
    return [t for t in out if t is not None]


@dataclass
class _Decoded:
    transcript: Transcript
    looped: bool


class _BatchDecoder:
    """Greedy or beam decoding of a batch over an encoder window of its longest piece plus a margin
    (at most Whisper's 30 s); with `cap_tokens` a decode stops at a length that speech never needs."""

    def __init__(self, model, beam_size: int, *, cap_tokens: bool = True):
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model, self.beam_size, self.cap_tokens = model, beam_size, cap_tokens
        self.tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
        self.prompt = model.get_prompt(self.tokenizer, [], without_timestamps=True)
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])

    def __call__(self, pieces: list[np.ndarray], margin_frames: int) -> list[_Decoded]:
        import ctranslate2

        feats = [self.model.feature_extractor(p)[..., :-1] for p in pieces]
        longest = max(f.shape[1] for f in feats)
        frames = min(FULL_WINDOW_FRAMES, int(np.ceil((longest + margin_frames) / 100) * 100))
        batch = np.zeros((len(feats), feats[0].shape[0], frames), dtype=np.float32)
        for i, f in enumerate(feats):
            batch[i, :, : min(frames, f.shape[1])] = f[:, :frames]
        cap = self.model.max_length - len(self.prompt)
        if self.cap_tokens:
            cap = min(cap, MAX_TOKENS_SLACK + int(MAX_TOKENS_PER_SECOND * longest / 100))
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(batch))
        results = self.model.model.generate(
            encoded,
            [list(self.prompt) for _ in feats],
            beam_size=self.beam_size,
            max_length=len(self.prompt) + cap,
            return_scores=True,
            return_logits_vocab=self.beam_size == 1,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress,
        )
        return [self._result(r, cap) for r in results]

    def _result(self, r, cap: int) -> _Decoded:
        from faster_whisper.transcribe import get_compression_ratio

        sequence = r.sequences_ids[0]
        ids = [t for t in sequence if t < self.tokenizer.eot]
        text = self.tokenizer.decode(ids).strip()
        n = len(sequence)
        ratio = float(get_compression_ratio(text)) if text else 0.0
        words = self._word_probabilities(ids, r.logits[0]) if self.beam_size == 1 else []
        transcript = Transcript(
            text=text,
            avg_logprob=float(r.scores[0] * n / (n + 1)),
            no_speech_prob=float(r.no_speech_prob),
            compression_ratio=ratio,
            transcript_accuracy=segment_accuracy(words),
        )
        return _Decoded(transcript, looped=n >= cap or ratio > LOOP_COMPRESSION_RATIO or repeats_words(text))

    def _word_probabilities(self, ids: list[int], logits: list) -> list[float]:
        """Each word's probability: the product of its tokens' (a word starts at a token with a space)."""
        words: list[float] = []
        for token, step in zip(ids, logits):
            x = np.asarray(step).reshape(-1)  # float32: a tenth of float64's time, with the GIL held
            top = x.max()
            p = float(np.exp(x[token] - top) / np.exp(x - top).sum())
            piece = self.tokenizer.decode([token])
            if not words or piece.startswith(" "):
                words.append(p)
            else:
                words[-1] *= p
        return words


def repeats_words(text: str, run: int = LOOP_WORDS) -> bool:
    """Whether some `run` consecutive words occur twice (case and punctuation aside)."""
    words = ["".join(c for c in w.lower() if c.isalnum()) for w in text.split()]
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words) - run + 1):
        gram = tuple(words[i : i + run])
        if gram in seen:
            return True
        seen.add(gram)
    return False


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
