"""Copy one upload into content-addressed storage untouched, hashing and probing it on the way."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from provoice.audio.probe import probe
from provoice.dataset.sources import Source
from provoice.errors import FileRejected, TransientError
from provoice.settings import Settings
from provoice.storage import Storage, filesystem_for

CHUNK = 4 * 1024 * 1024


@dataclass
class Ingested:
    display_name: str
    sha256: str
    size: int
    raw_uri: str
    format: str | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def raw_key(sha256: str) -> str:
    return f"raw/{sha256[:2]}/{sha256}"


def ingest_source(source: Source, settings: Settings) -> Ingested:
    """Store the original bytes under their sha256 and probe them; a bad file is reported, not raised."""
    storage = Storage.from_settings(settings)
    fs, path = filesystem_for(source.uri, settings)
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryDirectory(prefix="provoice-ingest-") as tmp:
        local = Path(tmp) / "upload"
        try:
            with fs.open(path, "rb") as src, open(local, "wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
        except (ConnectionError, TimeoutError) as exc:
            raise TransientError(f"reading {source.display_name} failed: {exc}") from exc
        sha = digest.hexdigest()
        key = raw_key(sha)
        if not storage.exists(key):
            storage.put_file(local, key)
        result = Ingested(source.display_name, sha, size, storage.uri(key))
        try:
            info = probe(local)
        except FileRejected as exc:
            result.reason = str(exc)
            return result
    result.format, result.duration_s, result.sample_rate = info.format, info.duration_s, info.sample_rate
    return result
