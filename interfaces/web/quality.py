"""The readable quality report of a dataset: accepted speech against the minimum, seconds by
rejection reason (the plot), and every segment of every file with its decision."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from provoice.audio.wavio import read_slice, read_wav_info, wav_bytes
from provoice.catalog import Catalog, PreparationRun
from provoice.dataset.outputs import read_manifest, reason_category
from provoice.errors import NotFound
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.voice_models import BaseModelRegistry, VoiceDistance, recipe_for, voice_distance


@dataclass(frozen=True)
class Segment:
    index: int
    start: float
    end: float
    text: str
    reason: str | None

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Bar:
    label: str
    seconds: float
    accepted: bool
    percent: float


@dataclass
class QualityReport:
    version: str
    accepted_s: float
    min_s: float
    missing_s: float
    enough: bool
    message: str
    bars: list[Bar]
    segments: dict[str, list[Segment]] = field(default_factory=dict)
    speaker_similarity_median: float | None = None
    distance: VoiceDistance | None = None

    @property
    def percent_of_minimum(self) -> float:
        return 100.0 if self.min_s <= 0 else min(100.0, 100.0 * self.accepted_s / self.min_s)


def _segments(storage: Storage, report: dict) -> list[dict]:
    uri = report.get("segments_uri")
    return read_manifest(storage, uri) if uri else []


def quality_report(settings: Settings, catalog: Catalog, dataset_id: str) -> QualityReport | None:
    """The latest completed preparation's report, or None before the first."""
    run = catalog.latest_run(dataset_id)
    if run is None:
        return None
    storage = Storage.from_settings(settings)
    report = storage.read_json(storage.key_of(run.report_uri))
    by_file: dict[str, list[Segment]] = collections.defaultdict(list)
    rejected: collections.Counter = collections.Counter()
    for i, s in enumerate(_segments(storage, report)):
        seg = Segment(i, s["start"], s["end"], s["text"], s["reason"])
        by_file[s["file_id"]].append(seg)
        if seg.reason:
            rejected[reason_category(seg.reason)] += seg.seconds
    whole_files: collections.Counter = collections.Counter()  # files rejected before any segment (unreadable, ...)
    for f in report["files"]:
        if f["status"] == "rejected" and not by_file.get(f["id"]) and f.get("reason"):
            rejected[reason_category(f["reason"])] += f.get("duration_s") or 0.0
            whole_files[reason_category(f["reason"])] += 1
    accepted = float(report["accepted_seconds"])
    rows = [("accepted speech", accepted, True)] + [
        (
            f"{label} ({whole_files[label]} file{'s' if whole_files[label] > 1 else ''})"
            if whole_files[label]
            else label,
            s,
            False,
        )
        for label, s in rejected.most_common()
    ]
    top = max((s for _, s, _ in rows), default=0.0) or 1.0
    bars = [Bar(label, round(s, 1), ok, round(100.0 * s / top, 1)) for label, s, ok in rows]
    return QualityReport(
        version=run.version,
        accepted_s=accepted,
        min_s=float(report["min_seconds"]),
        missing_s=float(report.get("missing_seconds", 0.0)),
        enough=bool(report["enough"]),
        message=report.get("message", ""),
        bars=bars,
        segments=dict(by_file),
        speaker_similarity_median=report.get("speaker_similarity_median"),
        distance=_distance(settings, catalog, report.get("speaker_voice")),
    )


def pvc_distance(
    settings: Settings, catalog: Catalog, dataset_id: str, base_model_id: str, budget: dict, evaluation: dict | None
) -> VoiceDistance | None:
    """The PVC's voice against its own base, for its own budget (the ceiling once it was measured)."""
    run = catalog.latest_run(dataset_id)
    if run is None:
        return None
    storage = Storage.from_settings(settings)
    voice = storage.read_json(storage.key_of(run.report_uri)).get("speaker_voice")
    minutes = budget.get("max_minutes") or recipe_for(settings).default_minutes(settings)
    return voice_distance(settings, base_model_id, voice, minutes, (evaluation or {}).get("ceiling_similarity"))


def _distance(settings: Settings, catalog: Catalog, voice: list[float] | None) -> VoiceDistance | None:
    """The dataset's voice against the base a new PVC would start from, at the default budget."""
    try:
        base = BaseModelRegistry(settings, catalog).latest()
    except NotFound:
        return None
    return voice_distance(settings, base.id, voice, recipe_for(settings).default_minutes(settings))


def segment_audio(settings: Settings, catalog: Catalog, dataset_id: str, version: str, index: int) -> bytes:
    """One segment of a prepared version as a WAV, cut from the converted audio it was checked on."""
    run: PreparationRun = catalog.prepared_version(dataset_id, version)
    storage = Storage.from_settings(settings)
    segments = _segments(storage, storage.read_json(storage.key_of(run.report_uri)))
    if not 0 <= index < len(segments):
        raise NotFound(f"version {version} of dataset {dataset_id} has no segment {index}")
    s = segments[index]
    return stored_clip(storage, s["audio_uri"], s["start"], s["end"])


def stored_clip(storage: Storage, audio_uri: str, start: float, end: float) -> bytes:
    """[start, end) of a stored WAV as a WAV of its own, at that file's rate."""
    with storage.local_path(storage.key_of(audio_uri)) as wav:
        return wav_bytes(read_slice(wav, start, end), read_wav_info(wav)[0])
