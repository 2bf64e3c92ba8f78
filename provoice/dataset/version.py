"""The dataset version: a content hash a PVC can pin."""

from __future__ import annotations

import hashlib
import json


def dataset_version(file_hashes: list[str], preparation_settings: dict) -> str:
    """Hash of the sorted file hashes and the settings that shape preparation results."""
    blob = json.dumps({"files": sorted(file_hashes), "settings": preparation_settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
