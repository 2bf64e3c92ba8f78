"""What a consent recording is: usable speech, not a copy of the dataset, the prompt's words, the
dataset's voice. Every measure that can be taken is taken, so a refusal shows its figures too;
the reason is the first check that failed, in that order."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from provoice.asr.wer import word_error_rate
from provoice.asr.whisper import load_model, transcribe_one
from provoice.audio.convert import convert
from provoice.audio.vad import segment
from provoice.audio.wavio import read_slice
from provoice.consent.copies import find_cut
from provoice.consent.phrases import phrase_in_order
from provoice.errors import FileRejected, NotEnoughSpeech
from provoice.quality.speaker import embed, load_encoder
from provoice.settings import Settings

# One short recording: beam search, the decoding that hears read words best, costs about a second.
BEAM_SIZE = 5
#: What the checks import as they run (the `train` extra's): voice activity, Whisper, the speaker encoder, WER.
CHECKS_NEED = ("webrtcvad", "faster_whisper", "resemblyzer", "jiwer", "whisper_normalizer")


@dataclass(frozen=True)
class DatasetFileRef:
    """A dataset file as the copy check sees it: its name, content hash and 16 kHz view (if converted)."""

    name: str
    sha256: str
    wav16: Path | None


@dataclass
class Verdict:
    verified: bool
    reason: str | None
    transcript: str | None = None
    prompt_wer: float | None = None
    speaker_similarity: float | None = None
    speech_seconds: float | None = None
    voice: list[float] | None = None


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def examine(
    recording: Path,
    sha256: str,
    prompt: str,
    phrase: list[str],
    dataset_voice: np.ndarray,
    files: Iterable[DatasetFileRef],
    settings: Settings,
) -> Verdict:
    """Check one recording against the prompt and the dataset; never raises for what the file is."""
    files = list(files)
    same = next((f for f in files if f.sha256 == sha256), None)
    if same is not None:
        return Verdict(
            False,
            f"a copy: this recording is the dataset file {same.name!r} itself (same sha256); "
            "record the speaker reading the prompt now",
        )
    with tempfile.TemporaryDirectory(prefix="provoice-consent-") as tmp:
        hi, lo = Path(tmp) / "audio.wav", Path(tmp) / "audio16.wav"
        try:
            conv = convert(
                recording,
                hi,
                lo,
                sample_rate=settings.sample_rate,
                target_dbfs=settings.loudness_target_dbfs,
                low_bandwidth_hz=settings.low_bandwidth_hz,
            )
        except NotEnoughSpeech as exc:
            return Verdict(False, f"silent: {exc}")
        except FileRejected as exc:
            return Verdict(False, f"not a usable recording: {exc}")
        if conv.duration_s > settings.consent_max_seconds:
            return Verdict(
                False,
                f"too long: {conv.duration_s:.0f} s; a consent recording is the prompt read once "
                f"(at most {settings.consent_max_seconds:g} s, PROVOICE_CONSENT_MAX_SECONDS)",
            )
        seg = segment(
            lo,
            aggressiveness=settings.vad_aggressiveness,
            frame_ms=settings.vad_frame_ms,
            padding_ms=settings.vad_padding_ms,
        )
        speech_s = round(seg.speech_ratio * conv.duration_s, 2)
        x16 = read_slice(lo, 0.0, conv.duration_s + 1)
        verdict = Verdict(False, None, speech_seconds=speech_s)
        if conv.clip_fraction > settings.max_clip_fraction:
            verdict.reason = (
                f"clipped: {conv.clip_fraction:.1%} of the samples are at full scale "
                f"(at most {settings.max_clip_fraction:.1%}); record again with the input level lower"
            )
        elif speech_s < settings.consent_min_speech_seconds:
            verdict.reason = (
                f"not enough speech: {speech_s:.1f} s heard, at least "
                f"{settings.consent_min_speech_seconds:g} s needed; read the whole prompt aloud"
            )
        if verdict.reason:
            return verdict
        cut = find_cut(x16, ((f.name, f.wav16) for f in files if f.wav16 is not None))
        _listen(verdict, x16, prompt, phrase, dataset_voice, settings)
        if cut is not None:
            verdict.reason = (
                f"a copy: this recording is cut from the dataset file {cut.source!r} (at {cut.at_s:g} s, "
                f"correlation {cut.correlation:.2f}); record the speaker reading the prompt now"
            )
        elif verdict.prompt_wer is None or verdict.prompt_wer > settings.consent_max_wer:
            verdict.reason = (
                f"wrong words: the recording does not read the prompt (word error rate "
                f"{verdict.prompt_wer:.0%}, at most {settings.consent_max_wer:.0%}); heard: "
                f"{verdict.transcript!r}"
            )
        elif missing := phrase_in_order(phrase, verdict.transcript or ""):
            verdict.reason = (
                f"wrong words: the one-time words {', '.join(phrase)} were not all heard in order "
                f"(missing: {', '.join(missing)}); heard: {verdict.transcript!r}"
            )
        elif verdict.speaker_similarity is None:
            verdict.reason = "no voice: too little voiced speech to compare with the dataset's speaker"
        elif verdict.speaker_similarity < settings.consent_min_speaker_similarity:
            verdict.reason = (
                f"another speaker: voice similarity {verdict.speaker_similarity:.2f} to the dataset's "
                f"main speaker is below {settings.consent_min_speaker_similarity:g}; the person whose "
                "voice is in the dataset must read the prompt"
            )
        verdict.verified = verdict.reason is None
        return verdict


def _listen(
    verdict: Verdict, x16: np.ndarray, prompt: str, phrase: list[str], dataset_voice: np.ndarray, settings: Settings
) -> None:
    """Transcript, word error rate against the prompt, and similarity to the dataset's voice."""
    device = settings.resolved_device()
    model = load_model(settings.asr_model, device, settings.asr_compute_type, settings.asr_cpu_threads)
    verdict.transcript = transcribe_one(model, x16, beam_size=BEAM_SIZE).text
    verdict.prompt_wer = round(word_error_rate(prompt, verdict.transcript), 4)
    voice = embed(load_encoder(device), x16)
    if voice is not None:
        verdict.voice = [round(float(v), 6) for v in voice]
        verdict.speaker_similarity = round(float(voice @ dataset_voice), 4)
