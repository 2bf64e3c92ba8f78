"""Detect an upload's real format from its content (ffprobe through pydub), never its extension."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pydub.utils import get_prober_name

from provoice.errors import CorruptAudio, UnsupportedFormat
from provoice.settings import ACCEPTED_FORMATS


@dataclass(frozen=True)
class ProbeResult:
    format: str
    codec: str
    duration_s: float | None
    sample_rate: int
    channels: int


def _canonical_format(format_name: str, codec: str) -> str | None:
    """Map ffprobe's container and codec names onto the accepted format names."""
    names = set(format_name.split(","))
    if "wav" in names:
        return "wav"
    if "mp3" in names:
        return "mp3"
    if "flac" in names:
        return "flac"
    if "ogg" in names:
        return "opus" if codec == "opus" else "ogg"
    if "aac" in names:
        return "aac"
    if "asf" in names:
        return "wma"
    if "mp4" in names or "m4a" in names or "mov" in names:
        return "m4a"
    if "ac3" in names or "eac3" in names:
        return "ac3"
    if "webm" in names or "matroska" in names:
        return "webm"
    return None


def probe(path: str | Path) -> ProbeResult:
    """Read container and first audio stream; raise a typed, user-readable error otherwise."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise CorruptAudio("empty file (0 bytes)")
    cmd = [get_prober_name(), "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unknown error"
        detail = detail.replace(f"{path}: ", "").replace(str(path), "the file")
        raise CorruptAudio(f"not a readable audio file ({detail})")
    info = json.loads(proc.stdout or "{}")
    fmt = info.get("format", {})
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    format_name = fmt.get("format_name", "unknown")
    if not streams:
        raise CorruptAudio(f"no audio stream found (container {format_name!r})")
    stream = streams[0]
    codec = stream.get("codec_name", "unknown")
    canonical = _canonical_format(format_name, codec)
    if canonical is None:
        long_name = fmt.get("format_long_name") or format_name
        raise UnsupportedFormat(
            f"unsupported audio format: {long_name} ({format_name}/{codec}); "
            f"accepted formats: {', '.join(ACCEPTED_FORMATS)}"
        )
    duration = fmt.get("duration") or stream.get("duration")
    return ProbeResult(
        format=canonical,
        codec=codec,
        duration_s=float(duration) if duration not in (None, "N/A") else None,
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
    )
