"""A model's evaluation scores kept in storage under a key of everything they depend on.

An exported model never changes, so the same model read with the same sentences and seeds against
the same held-out speech, heard by the same scorers, scores the same: it is scored once. The base
model's floor is computed by the first PVC on a dataset version and read back by every later PVC
and retrain on it; a retrain reads the new model's scores from its fine-tune's own evaluation. Any
change of model, dataset version, held-out clips, sentences, seeds, ASR settings or scorer versions
is another key, so it is scored afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from provoice.settings import Settings
from provoice.storage import Storage
from provoice.views import Evaluation

KEPT_SCORES_PREFIX = "evaluations"
#: Raise it when what an evaluation measures changes in code, so no kept score outlives its meaning.
SCORES_FORMAT = 1
#: Packages whose models hear or make the audio scored: an upgrade of any of them scores afresh.
SCORING_PACKAGES = ("torch", "faster-whisper", "ctranslate2", "resemblyzer", "speechmos", "onnxruntime")
#: The fields of an `Evaluation` of one model (its references, ceiling and base, are not kept with it).
KEPT_FIELDS = ("wer", "speaker_similarity", "dnsmos", "wer_by_seed", "sentences")


@dataclass(frozen=True)
class ScoresKey:
    """What one model's evaluation depends on, and where its scores are kept."""

    material: dict[str, Any]

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.material, sort_keys=True).encode()).hexdigest()

    @property
    def storage_key(self) -> str:
        return f"{KEPT_SCORES_PREFIX}/{self.digest[:2]}/{self.digest}.json"


def scores_key(
    settings: Settings,
    *,
    model_id: str,
    fingerprint: str,
    manifest_uri: str,
    held_rows: Sequence[dict],
    sentences: Sequence[str],
    seeds: Sequence[int],
    beam_size: int,
) -> ScoresKey:
    """The key of `model_id` (weights named by `fingerprint`) read with `sentences` × `seeds` and
    scored against `held_rows`, the held-out clips of the dataset version behind `manifest_uri`."""
    return ScoresKey(
        {
            "format": SCORES_FORMAT,
            "model_id": model_id,
            "fingerprint": fingerprint,
            "manifest_uri": manifest_uri,
            "held_out": [[r["id"], r["audio_uri"], r["start"], r["end"]] for r in held_rows],
            "sentences": list(sentences),
            "seeds": list(seeds),
            "asr": {
                "model": Path(settings.asr_model).name,
                "device": settings.resolved_device(),
                "compute_type": settings.asr_compute_type,
                "beam_size": beam_size,
            },
            "packages": {name: _version(name) for name in SCORING_PACKAGES},
        }
    )


def read_scores(storage: Storage, key: ScoresKey) -> Evaluation | None:
    """The kept scores under `key`, or None when this model has not been scored so."""
    if not storage.exists(key.storage_key):
        return None
    kept = storage.read_json(key.storage_key)
    if kept.get("key") != key.material:  # a digest collision, or a record written by hand
        return None
    return Evaluation(**kept["scores"])


def keep_scores(storage: Storage, key: ScoresKey, evaluation: Evaluation) -> None:
    """Keep one model's own scores (full precision, every sentence's row) with the key they belong to."""
    scores = {name: getattr(evaluation, name) for name in KEPT_FIELDS}
    storage.write_json(key.storage_key, {"key": key.material, "scores": scores})


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
