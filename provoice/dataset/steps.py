"""The per-file preparation steps as plain functions over storage, each cached by content.

Every step writes its result under `work/<sha256>/<key>/`, where the key hashes the settings of
that step and of all steps before it. A step whose result exists returns it without redoing any
work, and a file's rejection is cached the same way, so re-runs and retries repeat nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from provoice.asr.whisper import load_model, transcribe_segments
from provoice.audio.convert import convert
from provoice.audio.vad import segment
from provoice.audio.wavio import read_slice
from provoice.errors import FileRejected, NotEnoughSpeech
from provoice.quality.acoustics import acoustic_metrics
from provoice.quality.checks import rejection_reason, segment_warnings
from provoice.quality.signal import signal_metrics
from provoice.quality.speaker import embed_many, load_encoder
from provoice.settings import PREPARATION_STEP_SETTINGS, Settings
from provoice.storage import Storage


def work_prefix(settings: Settings, sha256: str, step: str) -> str:
    order = list(PREPARATION_STEP_SETTINGS)
    keys = [settings.step_key(*PREPARATION_STEP_SETTINGS[name]) for name in order[: order.index(step) + 1]]
    return f"work/{sha256}/{'-'.join(keys)}"


def converted_16k_key(settings: Settings, sha256: str) -> str:
    """Where the convert step keeps a file's 16 kHz view."""
    return f"{work_prefix(settings, sha256, 'convert')}/audio16.wav"


def _run_cached(storage: Storage, key: str, compute: Callable[[], dict]) -> dict:
    """Return the stored result at `key`, or compute and store it; a rejection is stored too."""
    if storage.exists(key):
        result = storage.read_json(key)
        if "rejected" in result:
            raise FileRejected(result["rejected"])
        return result
    try:
        result = compute()
    except FileRejected as exc:
        storage.write_json(key, {"rejected": str(exc)})
        raise
    storage.write_json(key, result)
    return result


def convert_step(storage: Storage, settings: Settings, sha256: str, raw_uri: str) -> dict:
    """Training-rate WAV plus a 16 kHz view, loudness-normalised."""
    prefix = work_prefix(settings, sha256, "convert")
    audio_key, audio16_key = f"{prefix}/audio.wav", converted_16k_key(settings, sha256)

    def compute() -> dict:
        with (
            storage.local_path(storage.key_of(raw_uri)) as src,
            storage.staged_output(audio_key) as out,
            storage.staged_output(audio16_key) as out16,
        ):
            conv = convert(
                src,
                out,
                out16,
                sample_rate=settings.sample_rate,
                target_dbfs=settings.loudness_target_dbfs,
                low_bandwidth_hz=settings.low_bandwidth_hz,
            )
        return {
            "sha256": sha256,
            "audio_uri": storage.uri(audio_key),
            "audio16_uri": storage.uri(audio16_key),
            **conv.to_dict(),
        }

    return _run_cached(storage, f"{prefix}/convert.json", compute)


def segment_step(storage: Storage, settings: Settings, conv: dict) -> dict:
    """VAD utterance boundaries; a file without any usable utterance is rejected here."""

    def compute() -> dict:
        with storage.local_path(storage.key_of(conv["audio16_uri"])) as wav16:
            seg = segment(
                wav16,
                aggressiveness=settings.vad_aggressiveness,
                frame_ms=settings.vad_frame_ms,
                padding_ms=settings.vad_padding_ms,
                min_s=settings.min_segment_s,
                max_s=settings.max_segment_s,
            )
        if not seg.segments:
            raise NotEnoughSpeech(
                f"no speech found: voice activity detection found no utterance of "
                f"{settings.min_segment_s:g}–{settings.max_segment_s:g} s"
            )
        return {**conv, **seg.to_dict()}

    prefix = work_prefix(settings, conv["sha256"], "segment")
    return _run_cached(storage, f"{prefix}/segments.json", compute)


def warm_models(settings: Settings) -> None:
    """Load the models preparation uses (Whisper, the speaker encoder) into this process's
    single-flight caches, so a caller can overlap their loading with other work (an upload)."""
    load_model(settings.asr_model, settings.resolved_device(), settings.asr_compute_type, settings.asr_cpu_threads)
    load_encoder(settings.resolved_device())


def transcribe_step(storage: Storage, settings: Settings, seg: dict) -> dict:
    """Whisper text and confidences for every segment, batched."""

    def compute() -> dict:
        model = load_model(
            settings.asr_model, settings.resolved_device(), settings.asr_compute_type, settings.asr_cpu_threads
        )
        bounds = [(s["start"], s["end"]) for s in seg["segments"]]
        with storage.local_path(storage.key_of(seg["audio16_uri"])) as wav16:
            texts = transcribe_segments(
                model,
                wav16,
                bounds,
                beam_size=settings.asr_beam_size,
                batch_size=settings.asr_batch_size,
                trim_window=settings.asr_trim_window,
                window_margin_s=settings.asr_window_margin_s,
                retry_loops=settings.asr_retry_loops,
            )
        return {**seg, "segments": [{**s, **t.to_dict()} for s, t in zip(seg["segments"], texts)]}

    prefix = work_prefix(settings, seg["sha256"], "transcribe")
    return _run_cached(storage, f"{prefix}/transcripts.json", compute)


def quality_step(storage: Storage, settings: Settings, tr: dict) -> dict:
    """Signal and transcript checks per segment, and a speaker embedding for each good one."""
    prefix = work_prefix(settings, tr["sha256"], "quality")
    return _run_cached(storage, f"{prefix}/quality.json", lambda: _check_segments(storage, settings, tr))


def _check_segments(storage: Storage, settings: Settings, tr: dict) -> dict:
    encoder = load_encoder(settings.resolved_device())
    segments = []
    with (
        storage.local_path(storage.key_of(tr["audio_uri"])) as wav,
        storage.local_path(storage.key_of(tr["audio16_uri"])) as wav16,
    ):
        for s in tr["segments"]:
            x = read_slice(wav, s["start"], s["end"])
            m = {
                "duration": round(s["end"] - s["start"], 3),
                **signal_metrics(
                    x, settings.sample_rate, gain_db=tr["gain_db"], noise_floor_dbfs=tr["noise_floor_dbfs"]
                ),
                **acoustic_metrics(x, settings.sample_rate, noise_floor_dbfs=tr["noise_floor_dbfs"]),
                **{
                    k: s[k]
                    for k in ("text", "avg_logprob", "no_speech_prob", "compression_ratio", "transcript_accuracy")
                },
            }
            segments.append(
                {
                    "start": s["start"],
                    "end": s["end"],
                    "text": s["text"].strip(),
                    "metrics": m,
                    "reason": rejection_reason(m, settings),
                    "warnings": segment_warnings(m, settings),
                    "embedding": None,
                }
            )
        good = [s for s in segments if s["reason"] is None]
        clips = (read_slice(wav16, s["start"], s["end"]) for s in good)
        for s, e in zip(good, embed_many(encoder, clips)):
            if e is None:
                s["reason"] = "too little voiced audio for a speaker check"
            else:
                s["embedding"] = np.round(e, 5).tolist()
    result = {k: v for k, v in tr.items() if k != "segments"}
    result["segments"] = segments
    return result
