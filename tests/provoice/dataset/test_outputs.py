"""A file's summary says what each cause cost: seconds excluded per reason, seconds kept with each warning."""

import re
from pathlib import Path

from provoice.dataset.outputs import file_summary, reason_category
from provoice.quality import checks
from provoice.settings import PREPARATION_STEP_SETTINGS, Settings


def seg(start, end, reason=None, warnings=()):
    return {"start": start, "end": end, "text": "words", "metrics": {}, "reason": reason, "warnings": list(warnings)}


def test_file_summary_counts_what_each_cause_cost():
    q = {
        "warnings": ["low bandwidth: content stops near 3.9 kHz"],
        "segments": [
            seg(0.0, 20.0, "telephone-band audio: content stops near 3.9 kHz"),
            seg(20.0, 40.5, "telephone-band audio: content stops near 4.1 kHz"),
            seg(40.5, 45.0, "duration 0.5 s outside 1–15 s"),
            seg(45.0, 80.0, warnings=["light reverberation: estimated decay time 0.70 s; the voice will carry it"]),
            seg(80.0, 90.0),
        ],
    }
    summary = file_summary(q)
    assert summary["status"] == "accepted" and summary["accepted_s"] == 45.0
    assert summary["excluded_s"] == {"telephone-band audio": 40.5, "duration": 4.5}
    assert summary["warned_s"] == {"light reverberation": 35.0}
    assert summary["warnings"] == [
        "low bandwidth: content stops near 3.9 kHz",
        "telephone-band audio: 40.5 s excluded",
        "duration: 4.5 s excluded",
        "light reverberation: 35.0 s kept with a warning",
    ]


def test_reason_category_drops_the_figures():
    assert reason_category("too quiet: level -52 dBFS below -45 dBFS") == "too quiet"
    assert reason_category("repetitive transcript (compression ratio 3.1, likely hallucination)") == (
        "repetitive transcript"
    )
    assert reason_category("duration 20.0 s outside 1–15 s") == "duration"


def test_every_threshold_the_checks_read_keys_the_quality_step():
    """A threshold the checks read but the quality step's key ignores would leave stale results cached."""
    source = Path(checks.__file__).read_text()
    read = set(re.findall(r"\bs\.([a-z_]+)", source)) - {"sample_rate"}
    assert read <= set(PREPARATION_STEP_SETTINGS["quality"]) | set(PREPARATION_STEP_SETTINGS["segment"])
    assert set(Settings().preparation_settings()) >= {k for names in PREPARATION_STEP_SETTINGS.values() for k in names}
