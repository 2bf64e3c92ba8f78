"""Turn user-given paths and URIs into a flat list of readable source files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provoice.errors import InvalidSource
from provoice.settings import Settings
from provoice.storage import filesystem_for


@dataclass(frozen=True)
class Source:
    uri: str
    display_name: str


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def list_sources(items: list[str], settings: Settings) -> list[Source]:
    """Expand files, directories and `s3://` prefixes; raise InvalidSource for anything unreadable."""
    out: list[Source] = []
    for item in items:
        if "://" in item and not item.startswith(("file://", "s3://")):
            raise InvalidSource(f"unsupported URI scheme in {item!r} (use a path, file:// or s3://)")
        if "://" not in item:
            p = Path(item).expanduser()
            if not p.exists():
                raise InvalidSource(f"no such file or directory: {item}")
            item = str(p.resolve())
        fs, path = filesystem_for(item, settings)
        try:
            if fs.isdir(path):
                files = sorted(f for f in fs.find(path) if not _name(f).startswith("."))
                prefix = "s3://" if item.startswith("s3://") else ""
                out.extend(Source(f"{prefix}{f}", _name(f)) for f in files)
            elif fs.isfile(path):
                out.append(Source(item, _name(path)))
            else:
                raise InvalidSource(f"nothing found at {item}")
        except (PermissionError, OSError) as exc:
            if isinstance(exc, InvalidSource):
                raise
            raise InvalidSource(f"cannot read {item}: {exc}") from exc
    return out
