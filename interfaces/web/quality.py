"""The readable quality report of a dataset: accepted speech against the minimum, seconds by
rejection reason (the plot), and its segments with their decisions, a page at a time."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

from provoice.audio.wavio import read_slice, read_wav_info, wav_bytes
from provoice.catalog import Catalog, PreparationRun
from provoice.dataset.outputs import reason_category
from provoice.dataset.queries import rejected_seconds, segment_at, segment_counts, segment_page
from provoice.errors import NotFound
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.views import SegmentPage
from provoice.voice_models import BaseModelRegistry, VoiceDistance, recipe_for, voice_distance

#: Segments (each with its player) on one page of the report.
SEGMENTS_PER_PAGE = 50
#: The segment filters a page offers: the query value and whether a segment was kept.
SEGMENT_FILTERS: dict[str, bool | None] = {"all": None, "kept": True, "rejected": False}


@dataclass(frozen=True)
class SegmentsShown:
    """One page of the version's segments, with what the page links need."""

    page: SegmentPage
    number: int
    pages: int
    kept: int
    total: int
    shown: str
    file_names: dict[str, str]
    requested: bool

    def nearby(self, span: int = 3) -> list[int]:
        """The page numbers linked around this one: the first, the last and `span` either side."""
        around = range(max(1, self.number - span), min(self.pages, self.number + span) + 1)
        return sorted({1, self.pages, *around})


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
    segments: SegmentsShown | None = None
    speaker_similarity_median: float | None = None
    transcript_accuracy: float | None = None
    distance: VoiceDistance | None = None

    @property
    def percent_of_minimum(self) -> float:
        return 100.0 if self.min_s <= 0 else min(100.0, 100.0 * self.accepted_s / self.min_s)


def quality_report(
    settings: Settings, catalog: Catalog, dataset_id: str, page: int | None = None, shown: str = "all"
) -> QualityReport | None:
    """The latest completed preparation's report with one page of its segments (`shown`: all, kept
    or rejected), or None before the first."""
    run = catalog.latest_run(dataset_id)
    if run is None:
        return None
    storage = Storage.from_settings(settings)
    report = storage.read_json(storage.key_of(run.report_uri))
    counts = segment_counts(catalog, storage, run)
    rejected, with_segments = rejected_seconds(catalog, run)
    whole_files: collections.Counter = collections.Counter()  # files rejected before any segment (unreadable, ...)
    for f in report["files"]:
        if f["status"] == "rejected" and f["id"] not in with_segments and f.get("reason"):
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
        segments=_segments_shown(catalog, run, counts, report, page, shown),
        speaker_similarity_median=report.get("speaker_similarity_median"),
        transcript_accuracy=report.get("transcript_accuracy"),
        distance=_distance(settings, catalog, report.get("speaker_voice")),
    )


def _segments_shown(
    catalog: Catalog, run: PreparationRun, counts: dict[bool, int], report: dict, page: int | None, shown: str
) -> SegmentsShown | None:
    if not counts[True] + counts[False]:
        return None
    shown = shown if shown in SEGMENT_FILTERS else "all"
    kept = SEGMENT_FILTERS[shown]
    total = counts[True] + counts[False] if kept is None else counts[kept]
    pages = max(1, math.ceil(total / SEGMENTS_PER_PAGE))
    number = min(max(page or 1, 1), pages)
    listed = segment_page(
        catalog, run, counts, limit=SEGMENTS_PER_PAGE, offset=(number - 1) * SEGMENTS_PER_PAGE, kept=kept
    )
    return SegmentsShown(
        page=listed,
        number=number,
        pages=pages,
        kept=counts[True],
        total=counts[True] + counts[False],
        shown=shown,
        file_names={f["id"]: f["name"] for f in report["files"]},
        requested=page is not None or shown != "all",
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
    s = segment_at(catalog, storage, run, index)
    return stored_clip(storage, s.audio_uri, s.start, s.end)


def stored_clip(storage: Storage, audio_uri: str, start: float, end: float) -> bytes:
    """[start, end) of a stored WAV as a WAV of its own, at that file's rate."""
    with storage.local_path(storage.key_of(audio_uri)) as wav:
        return wav_bytes(read_slice(wav, start, end), read_wav_info(wav)[0])
