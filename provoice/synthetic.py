"""Generated speech for the demo, tests and benchmarks: espeak-ng voices, every accepted format,
and the bad inputs users really upload. Nothing here is needed to serve real users."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

SENTENCES = [
    "Professional voice cloning needs clean recordings of a single speaker.",
    "Each recording is split into short utterances at the natural pauses.",
    "The weather was bright and clear when the train left the station.",
    "She placed the old map on the table and traced the river with her finger.",
    "Good training data has steady volume and very little background noise.",
    "They walked along the beach until the sun went down behind the hills.",
    "A careful editor reads every sentence twice before it is published.",
    "The library opens early on weekdays and closes late on Fridays.",
    "He poured a cup of coffee and started to write the quarterly report.",
    "Small changes in the recipe made the bread taste much better.",
    "The children built a tall tower out of wooden blocks and paper cups.",
    "Music drifted through the open window of the quiet apartment.",
]

# ffmpeg arguments per accepted format; opus, webm and ac3 need their own sample rates.
FORMAT_ARGS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "ogg": ["-c:a", "libvorbis", "-f", "ogg"],
    "oga": ["-c:a", "flac", "-f", "ogg"],
    "ogx": ["-c:a", "libvorbis", "-q:a", "6", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    "wma": ["-c:a", "wmav2", "-b:a", "64k", "-f", "asf"],
    "m4a": ["-c:a", "aac", "-b:a", "64k", "-f", "ipod"],
    "opus": ["-c:a", "libopus", "-ar", "48000", "-f", "ogg"],
    "ac3": ["-c:a", "ac3", "-ar", "44100", "-f", "ac3"],
    "webm": ["-c:a", "libopus", "-ar", "48000", "-f", "webm"],
}
MAIN_VOICE = "en-us"
OTHER_VOICE = "en-us+f3"


def require_tools() -> None:
    missing = [t for t in ("espeak-ng", "ffmpeg", "ffprobe") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"missing system tools: {', '.join(missing)} (run `make install`)")


def speak(text: str, dest: str | Path, voice: str = MAIN_VOICE, pitch: int | None = None) -> Path:
    """espeak-ng speech as a WAV (22050 Hz mono)."""
    cmd = ["espeak-ng", "-v", voice, "-w", str(dest)]
    if pitch is not None:
        cmd += ["-p", str(pitch)]
    subprocess.run([*cmd, text], check=True, capture_output=True)
    return Path(dest)


def encode(src: str | Path, dest: str | Path, fmt: str, extra: list[str] | None = None) -> Path:
    """Encode `src` into accepted format `fmt` at `dest` with ffmpeg."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), *(extra or []), *FORMAT_ARGS[fmt], str(dest)]
    subprocess.run(cmd, check=True, capture_output=True)
    return Path(dest)


def speech_file(dest: str | Path, sentences: list[str], voice: str = MAIN_VOICE, pitch: int | None = None) -> Path:
    """One WAV of several sentences with natural pauses between them."""
    return speak(" ".join(sentences), dest, voice, pitch)


def corpus(seconds: float, start: int = 0) -> list[str]:
    """Sentences (cycled) of roughly `seconds` of espeak speech at its default rate."""
    n = max(1, int(seconds / 3.6))
    return [SENTENCES[(start + i) % len(SENTENCES)] for i in range(n)]


def _write(dest: Path, x: np.ndarray, rate: int) -> Path:
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return dest


def _read(src: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(src), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768, w.getframerate()


def bad_files(folder: str | Path, reference_wav: str | Path) -> dict[str, Path]:
    """The bad uploads the pipeline must reject (or flag) with a clear reason, by case name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ref = Path(reference_wav)
    x, rate = _read(ref)
    rng = np.random.default_rng(0)
    out: dict[str, Path] = {}
    out["empty"] = folder / "empty.wav"
    out["empty"].write_bytes(b"")
    full_mp3 = encode(ref, folder / "full.tmp.mp3", "mp3")
    data = full_mp3.read_bytes()
    out["truncated_mp3"] = folder / "truncated.mp3"
    out["truncated_mp3"].write_bytes(data[: len(data) // 3])
    full_mp3.unlink()
    out["text_as_wav"] = folder / "notes.wav"
    out["text_as_wav"].write_text("These are meeting notes, not audio.\n" * 20)
    out["aiff"] = folder / "speech.aiff"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(ref), str(out["aiff"])], check=True)
    out["silence"] = _write(folder / "silence.wav", np.zeros(rate * 6), rate)
    out["noise"] = _write(folder / "noise.wav", 0.3 * rng.standard_normal(rate * 6), rate)
    t = np.arange(rate * 6) / rate
    notes = 220 * 2 ** (np.floor(t * 4) % 8 / 12)
    out["music"] = _write(folder / "music.wav", 0.3 * np.sin(2 * np.pi * np.cumsum(notes) / rate), rate)
    out["clipped"] = _write(folder / "clipped.wav", np.clip(x * 30, -1, 1), rate)
    return out
