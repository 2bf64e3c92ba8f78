"""Dataset-level decisions and outputs: speaker consistency, manifest, report, LJSpeech export."""

from __future__ import annotations

import collections
import csv
import io
import json
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from provoice.asr.confidence import expected_accuracy
from provoice.audio.wavio import read_slice, write_wav
from provoice.quality.checks import DIFFERENT_SPEAKER
from provoice.quality.speaker import dominant_speaker, similarities
from provoice.settings import Settings
from provoice.storage import Storage, filesystem_for


@dataclass(frozen=True)
class SpeakerCheck:
    """The dataset's dominant voice (a unit speaker embedding; consent is checked against it) and
    the median similarity of the segments kept; None without any candidate segment."""

    median_similarity: float | None
    voice: list[float] | None


def apply_speaker_check(qualities: dict[str, dict], settings: Settings) -> SpeakerCheck:
    """Reject segments whose voice differs from the dataset's dominant speaker (in place)."""
    refs = [(fid, s) for fid, q in qualities.items() for s in q["segments"] if s["embedding"]]
    if not refs:
        return SpeakerCheck(None, None)
    emb = np.asarray([s["embedding"] for _, s in refs], dtype=np.float32)
    weights = np.asarray([s["metrics"]["duration"] for _, s in refs])
    centroid = dominant_speaker(emb, settings.min_speaker_similarity, weights)
    sims = similarities(emb, centroid)
    for (_, s), sim in zip(refs, sims):
        s["metrics"]["speaker_similarity"] = round(float(sim), 3)
        if s["reason"] is None and sim < settings.min_speaker_similarity:
            s["reason"] = (
                f"{DIFFERENT_SPEAKER}: voice similarity {sim:.2f} to the dataset's main "
                f"speaker is below {settings.min_speaker_similarity:g}"
            )
    kept = [sim for (_, s), sim in zip(refs, sims) if s["reason"] is None]
    return SpeakerCheck(float(np.median(kept)) if kept else None, [round(float(v), 6) for v in centroid])


def reason_category(reason: str) -> str:
    """A reason or warning without its figures ('too quiet: -52 dBFS' -> 'too quiet', 'duration 0.5 s
    outside 1–15 s' -> 'duration'), to count them by kind."""
    return re.split(r":| \(| \d", reason, maxsplit=1)[0]


def cause_costs(segments: list[dict]) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds excluded per kind of rejection, and seconds kept with each kind of warning."""
    excluded: collections.Counter = collections.Counter()
    warned: collections.Counter = collections.Counter()
    for s in segments:
        seconds = s["end"] - s["start"]
        if s["reason"]:
            excluded[reason_category(s["reason"])] += seconds
        else:
            for category in {reason_category(w) for w in s.get("warnings", [])}:
                warned[category] += seconds
    return (
        {k: round(v, 1) for k, v in excluded.most_common()},
        {k: round(v, 1) for k, v in warned.most_common()},
    )


def cost_lines(excluded: dict[str, float], warned: dict[str, float]) -> list[str]:
    """'telephone-band audio: 40.2 s excluded', 'light reverberation: 35.0 s kept with a warning'."""
    return [f"{k}: {format_seconds(v)} excluded" for k, v in excluded.items()] + [
        f"{k}: {format_seconds(v)} kept with a warning" for k, v in warned.items()
    ]


def file_summary(q: dict) -> dict:
    """Status, main reason, accepted seconds and what each cause cost, of one file from its segment
    decisions; its warnings are the conversion's and one line per cause."""
    segs = q["segments"]
    good = [s for s in segs if s["reason"] is None]
    accepted_s = round(sum(s["end"] - s["start"] for s in good), 3)
    excluded, warned = cause_costs(segs)
    out = {
        "status": "accepted" if good else "rejected",
        "accepted_s": accepted_s,
        "segments": len(good),
        "segments_total": len(segs),
        "reason": None,
        "excluded_s": excluded,
        "warned_s": warned,
        "warnings": [*q.get("warnings", []), *cost_lines(excluded, warned)],
        "transcript_accuracy": expected_accuracy((s["text"], s["metrics"].get("transcript_accuracy")) for s in good),
    }
    if not good:
        weight: collections.Counter = collections.Counter()
        example: dict[str, str] = {}
        for s in segs:
            cat = reason_category(s["reason"])
            weight[cat] += s["end"] - s["start"]
            example.setdefault(cat, s["reason"])
        main = weight.most_common(1)[0][0]
        n = sum(1 for s in segs if reason_category(s["reason"]) == main)
        out["reason"] = f"{example[main]} ({n} of {len(segs)} segments)"
    return out


def manifest_rows(file_id: str, q: dict) -> list[dict]:
    rows = []
    for i, s in enumerate(s for s in q["segments"] if s["reason"] is None):
        rows.append(
            {
                "id": f"{file_id}_{i:04d}",
                "audio_uri": q["audio_uri"],
                "duration": round(s["end"] - s["start"], 3),
                "text": s["text"],
                "file_id": file_id,
                "start": s["start"],
                "end": s["end"],
                "metrics": s["metrics"],
            }
        )
    return rows


def segment_decisions(q: dict) -> list[dict]:
    """Every segment of a checked file, kept or not, with its reason: what the quality report lets
    a user listen to (the converted audio and the bounds of each segment)."""
    return [
        {
            "audio_uri": q["audio_uri"],
            "start": s["start"],
            "end": s["end"],
            "text": s["text"],
            "reason": s["reason"],
            "warnings": s.get("warnings", []),
        }
        for s in q["segments"]
    ]


def write_outputs(
    storage: Storage,
    settings: Settings,
    dataset_id: str,
    version: str,
    files: list[dict],
    rows: list[dict],
    speakers: SpeakerCheck,
) -> dict:
    """Write manifest.jsonl, metadata.csv, segments.jsonl (every segment's decision, from the files'
    `segment_list`) and report.json under the dataset version; return the report."""
    prefix = f"datasets/{dataset_id}/{version}"
    decisions = "".join(
        json.dumps({"file_id": f["id"], **d}, ensure_ascii=False) + "\n"
        for f in files
        for d in f.get("segment_list", [])
    )
    segments_uri = storage.write_bytes(f"{prefix}/segments.jsonl", decisions.encode())
    files = [{k: v for k, v in f.items() if k != "segment_list"} for f in files]
    manifest = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    manifest_uri = storage.write_bytes(f"{prefix}/manifest.jsonl", manifest.encode())
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="|", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    for r in rows:
        writer.writerow([r["id"], r["text"], r["text"]])
    metadata_uri = storage.write_bytes(f"{prefix}/metadata.csv", buf.getvalue().encode())
    accepted = round(sum(r["duration"] for r in rows), 3)
    missing = max(0.0, settings.min_speech_seconds - accepted)
    reasons = collections.Counter(reason_category(f["reason"]) for f in files if f["reason"])
    rejected = sum(1 for f in files if f["status"] == "rejected")
    message = (
        f"{format_seconds(accepted)} of accepted speech"
        + (
            f"; needs {format_seconds(settings.min_speech_seconds)}, {format_seconds(missing)} missing"
            if missing
            else ", enough for training"
        )
        + (f"; {rejected} file(s) rejected, see the files list" if rejected else "")
    )
    report = {
        "dataset_id": dataset_id,
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "accepted_seconds": accepted,
        "min_seconds": settings.min_speech_seconds,
        "enough": missing == 0,
        "missing_seconds": round(missing, 3),
        "message": message,
        "segments": len(rows),
        "transcript_accuracy": expected_accuracy((r["text"], r["metrics"].get("transcript_accuracy")) for r in rows),
        "speaker_similarity_median": speakers.median_similarity,
        "speaker_voice": speakers.voice,
        "rejection_reasons": dict(reasons),
        "files": files,
        "warnings": [f"{f['name']}: {w}" for f in files for w in f.get("warnings", [])],
        "manifest_uri": manifest_uri,
        "metadata_uri": metadata_uri,
        "segments_uri": segments_uri,
        "settings": settings.preparation_settings(),
    }
    report["report_uri"] = storage.uri(f"{prefix}/report.json")
    storage.write_json(f"{prefix}/report.json", report)
    return report


def format_seconds(seconds: float) -> str:
    """'1 h 12 min', '4 min 05 s' or '12.3 s': how people read durations."""
    seconds = float(seconds)
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{seconds:.1f} s"


def read_manifest(storage: Storage, manifest_uri: str) -> list[dict]:
    """The rows of a `manifest.jsonl` (or `segments.jsonl`) written by `write_outputs`."""
    text = storage.read_bytes(storage.key_of(manifest_uri)).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def export_dataset(storage: Storage, settings: Settings, manifest_uri: str, fmt: str, dest: str) -> str:
    """Export the manifest as `jsonl` or as an LJSpeech folder (wavs/ + metadata.csv) at `dest`."""
    target = dest if "://" in dest else Path(dest).expanduser().resolve().as_uri()
    fs, root = filesystem_for(target, settings)
    if fmt == "jsonl":
        fs.makedirs(root.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(root, "wb") as fh:
            fh.write(storage.read_bytes(storage.key_of(manifest_uri)))
        return target
    rows = read_manifest(storage, manifest_uri)
    fs.makedirs(f"{root}/wavs", exist_ok=True)
    lines = io.StringIO()
    writer = csv.writer(lines, delimiter="|", lineterminator="\n")
    by_audio: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        by_audio[r["audio_uri"]].append(r)
    with tempfile.TemporaryDirectory() as tmp:
        for audio_uri, items in by_audio.items():
            with storage.local_path(storage.key_of(audio_uri)) as wav:
                for r in items:
                    clip = f"{tmp}/{r['id']}.wav"
                    write_wav(clip, read_slice(wav, r["start"], r["end"]), settings.sample_rate)
                    fs.put_file(clip, f"{root}/wavs/{r['id']}.wav")
            for r in items:
                writer.writerow([r["id"], r["text"], r["text"]])
    with fs.open(f"{root}/metadata.csv", "wb") as fh:
        fh.write(lines.getvalue().encode())
    return target
