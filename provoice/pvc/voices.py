"""Four voices per PVC: one clip from each of four different source files, chosen for quality and
for the widest spread in speaker-embedding space, each with a preview of a fixed sentence."""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from provoice.audio.resample import to_16k
from provoice.audio.wavio import read_slice, read_wav_info, write_wav
from provoice.catalog import Catalog, Pvc, Voice
from provoice.catalog.models import new_id
from provoice.pvc.service import voices_of
from provoice.quality.speaker import embed
from provoice.storage import Storage

VOICES_PER_PVC = 4
CANDIDATES_PER_FILE = 3
PREVIEW_SENTENCE = "Hello! This is a preview of my new voice, made with ProVoice."


def clip_score(row: dict) -> float:
    """Higher for clean, confidently transcribed, on-speaker clips of a useful length."""
    m = row.get("metrics", {})
    length = 1.0 if 2.0 <= row["duration"] <= 12.0 else 0.5
    return length * (
        m.get("speaker_similarity", 0.8)
        + 0.3 * min(m.get("snr_db", 30.0), 40.0) / 40.0
        + 0.2 * math.exp(min(m.get("avg_logprob", -0.5), 0.0))
    )


def choose_clips(storage: Storage, rows: Sequence[dict], encoder, count: int = VOICES_PER_PVC) -> list[dict]:
    """Greedy farthest-point choice over the best clips of each file, one file per voice."""
    by_file: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        by_file[r["file_id"]].append(r)
    candidates: list[dict[str, Any]] = []
    for _file_id, items in by_file.items():
        for r in sorted(items, key=clip_score, reverse=True)[:CANDIDATES_PER_FILE]:
            with storage.local_path(storage.key_of(r["audio_uri"])) as wav:
                e = embed(encoder, to_16k(read_slice(wav, r["start"], r["end"]), read_wav_info(wav)[0]))
            if e is not None:
                candidates.append({"row": r, "embedding": e, "score": clip_score(r)})
    chosen: list[dict[str, Any]] = []
    while candidates and len(chosen) < count:
        used = {c["row"]["file_id"] for c in chosen}
        pool = [c for c in candidates if c["row"]["file_id"] not in used]
        if not pool:
            break
        if not chosen:
            best = max(pool, key=lambda c: c["score"])
        else:
            best = max(
                pool, key=lambda c: (min(1.0 - float(c["embedding"] @ k["embedding"]) for k in chosen), c["score"])
            )
        chosen.append(best)
    return chosen


def create_voices(
    catalog: Catalog, storage: Storage, pvc: Pvc, model_id: str, rows: Sequence[dict], encoder, synthesise
) -> list[Voice]:
    """Voices for (PVC, model); existing ones are returned as they are, so a retry adds none.

    `synthesise(text, embedding)` returns (audio, rate) from the PVC's model.
    """
    existing = voices_of(catalog, pvc.id, model_id)
    if existing:
        return existing
    voices = []
    for i, clip in enumerate(choose_clips(storage, rows, encoder), start=1):
        r = clip["row"]
        voice = Voice(
            id=new_id("voice"),
            account_id=pvc.account_id,
            pvc_id=pvc.id,
            model_id=model_id,
            name=f"{pvc.name} {i}",
            source_file_id=r["file_id"],
            clip_uri=r["audio_uri"],
            clip_start=r["start"],
            clip_end=r["end"],
            embedding=np.round(clip["embedding"], 6).tolist(),
        )
        audio, rate = synthesise(PREVIEW_SENTENCE, clip["embedding"])
        key = f"voices/{voice.id}/preview.wav"
        with storage.staged_output(key) as path:
            write_wav(path, audio, rate)
        voice.preview_uri = storage.uri(key)
        voices.append(voice)
    with catalog.session() as s:
        s.add_all(voices)
    return voices
