"""How far a voice is from the base, and what a budget should reach: measured once per base model,
read without loading any model."""

from __future__ import annotations

import numpy as np
import pytest

from provoice.storage import Storage
from provoice.voice_models.distance import (
    CLOSED_BY_MINUTES,
    TYPICAL_CEILING,
    base_voice_key,
    distance,
    expected_similarity,
    stored_base_voice,
    voice_distance,
)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_the_expectation_grows_with_the_budget_and_stays_under_the_ceiling():
    assert expected_similarity(0.55, 0) == 0.55
    points = [expected_similarity(0.55, m, 0.96) for m in (6, 12, 30, 60, 600)]
    assert points == sorted(points) and points[-1] <= 0.96
    assert expected_similarity(0.55, 12, 0.96) == pytest.approx(0.55 + dict(CLOSED_BY_MINUTES)[12] * 0.41, abs=1e-3)
    assert expected_similarity(0.99, 60) == 0.99  # above the typical ceiling already: nothing to close


def test_distance_bands_and_line():
    base = _unit([1, 0, 0])
    near = distance("joe", base, _unit([1, 0.2, 0]), 60)
    far = distance("joe", base, _unit([1, 1.4, 0]), 12, ceiling=0.96)
    assert near.band == "near" and far.band == "far" and far.ceiling == 0.96
    assert far.base_similarity == pytest.approx(0.581, abs=1e-3)
    assert far.expected_similarity == expected_similarity(far.base_similarity, 12, 0.96)
    assert "far from the base model joe" in far.line() and "12 minutes" in far.line()
    assert distance("joe", base, _unit([0.7, 0.714, 0]), 30).band == "moderately far"
    assert distance("joe", base, _unit([1, 0, 0]), 30).ceiling == TYPICAL_CEILING


def test_voice_distance_reads_the_stored_base_voice(settings):
    storage = Storage.from_settings(settings)
    assert voice_distance(settings, "tiny", [1.0, 0.0], 12) is None  # not measured yet
    storage.write_json(base_voice_key("tiny"), {"voice": [0.6, 0.8]})
    assert stored_base_voice(storage, "tiny").tolist() == pytest.approx([0.6, 0.8])
    found = voice_distance(settings, "tiny", [1.0, 0.0], 12)
    assert found.base_similarity == pytest.approx(0.6) and found.minutes == 12
    assert voice_distance(settings, "tiny", None, 12) is None


def test_reading_the_distance_imports_no_training_stack():
    import subprocess
    import sys

    code = "import sys; from provoice.voice_models import voice_distance; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
