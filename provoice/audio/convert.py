"""Convert any accepted upload to mono 16-bit PCM at the training rate, loudness-normalised.

pydub's `AudioSegment.from_file` holds several copies of the decoded PCM at once, which a
60-minute file cannot afford, so ffmpeg (pydub's configured converter) streams the decode to disk
at both rates in one pass, and pydub applies the normalising gain block by block.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from pydub import AudioSegment

from provoice.audio.probe import probe
from provoice.errors import CorruptAudio, NotEnoughSpeech, TransientError

VAD_RATE = 16000
BLOCK_SECONDS = 10
CLIP_LEVEL = 32700


@dataclass
class Conversion:
    duration_s: float
    source_format: str
    source_sample_rate: int
    gain_db: float
    loudness_dbfs: float
    peak_dbfs: float
    clip_fraction: float
    bandwidth_hz: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _decode(src: Path, out_hi: Path, out_lo: Path, rate: int) -> str:
    cmd = [
        AudioSegment.converter,
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-i",
        str(src),
        "-map",
        "0:a:0",
        "-ac",
        "1",
        "-ar",
        str(rate),
        "-f",
        "s16le",
        str(out_hi),
        "-map",
        "0:a:0",
        "-ac",
        "1",
        "-ar",
        str(VAD_RATE),
        "-f",
        "s16le",
        str(out_lo),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    except OSError as exc:
        raise TransientError(f"could not start ffmpeg: {exc}") from exc
    if proc.returncode < 0:
        raise TransientError(f"ffmpeg was killed (signal {-proc.returncode})")
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise CorruptAudio(f"cannot decode audio ({lines[-1] if lines else 'ffmpeg failed'})")
    return proc.stderr


def _raw_blocks(path: Path, frames: int):
    with open(path, "rb") as fh:
        while True:
            data = fh.read(frames * 2)
            if not data:
                return
            yield data


def _measure(raw: Path, rate: int) -> tuple[float, float, float, float]:
    """Gated loudness (dBFS), peak (dBFS), clipped-sample fraction and bandwidth (Hz)."""
    gate_frames = int(0.4 * rate)
    energies: list[float] = []
    peak = 0
    clipped = 0
    total = 0
    spectrum = np.zeros(513)
    window = np.hanning(1024)
    for data in _raw_blocks(raw, rate * BLOCK_SECONDS):
        x = np.frombuffer(data, dtype="<i2")
        total += x.size
        absx = np.abs(x.astype(np.int32))
        peak = max(peak, int(absx.max(initial=0)))
        clipped += int(np.count_nonzero(absx >= CLIP_LEVEL))
        xf = x.astype(np.float32) / 32768.0
        n = xf.size // gate_frames
        if n:
            energies.extend(np.mean(xf[: n * gate_frames].reshape(n, gate_frames) ** 2, axis=1))
        for start in range(0, xf.size - 1024, 2048):
            frame = xf[start : start + 1024]
            if np.mean(frame**2) > 1e-6:
                spectrum += np.abs(np.fft.rfft(frame * window)) ** 2
    e = np.asarray(energies)
    e = e[e > 10 ** (-70 / 10)]
    if e.size:
        e = e[e > np.mean(e) * 10 ** (-10 / 10)]
    loudness = 10 * np.log10(np.mean(e)) if e.size else -120.0
    peak_db = 20 * np.log10(peak / 32768.0) if peak else -120.0
    bandwidth = 0.0
    if spectrum.max() > 0:
        level = 10 * np.log10(spectrum / spectrum.max() + 1e-20)
        above = np.nonzero(level > -50.0)[0]
        bandwidth = float(above.max() * rate / 1024) if above.size else 0.0
    return float(loudness), float(peak_db), clipped / max(total, 1), bandwidth


def _apply_gain(raw: Path, dest: Path, rate: int, gain_db: float) -> None:
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        for data in _raw_blocks(raw, rate * BLOCK_SECONDS):
            seg = AudioSegment(data=data, sample_width=2, frame_rate=rate, channels=1)
            w.writeframes(seg.apply_gain(gain_db).raw_data)


def convert(
    src: str | Path,
    dest: str | Path,
    dest_16k: str | Path,
    *,
    sample_rate: int = 22050,
    target_dbfs: float = -20.0,
    low_bandwidth_hz: float = 5000.0,
) -> Conversion:
    """Write the training-rate WAV to `dest` and a 16 kHz view (for VAD and ASR) to `dest_16k`."""
    src = Path(src)
    info = probe(src)
    with tempfile.TemporaryDirectory(prefix="provoice-convert-") as tmp:
        hi, lo = Path(tmp) / "hi.raw", Path(tmp) / "lo.raw"
        stderr = _decode(src, hi, lo, sample_rate)
        decoded_s = hi.stat().st_size / 2 / sample_rate if hi.exists() else 0.0
        if decoded_s <= 0.0:
            raise CorruptAudio("no audio could be decoded from the file")
        header_s = info.duration_s
        if header_s and decoded_s < 0.9 * header_s and header_s - decoded_s > 0.5:
            raise CorruptAudio(
                f"truncated or damaged {info.format}: the header says {header_s:.1f} s "
                f"but only {decoded_s:.1f} s decodes"
            )
        if stderr.strip() and header_s and decoded_s < 0.98 * header_s:
            first = stderr.strip().splitlines()[0]
            raise CorruptAudio(f"damaged {info.format}: decoding stopped early ({first})")
        loudness, peak_db, clip_fraction, bandwidth = _measure(hi, sample_rate)
        if loudness <= -70.0:
            raise NotEnoughSpeech("no speech: the file is silent (no signal above -70 dBFS)")
        gain = min(target_dbfs - loudness, -1.0 - peak_db, 40.0)
        _apply_gain(hi, Path(dest), sample_rate, gain)
        _apply_gain(lo, Path(dest_16k), VAD_RATE, gain)
    if info.sample_rate:
        bandwidth = min(bandwidth, info.sample_rate / 2)
    warnings = []
    if bandwidth < low_bandwidth_hz:
        warnings.append(
            f"low bandwidth: content stops near {bandwidth / 1000:.1f} kHz "
            f"(source {info.sample_rate} Hz); expect a muffled voice"
        )
    return Conversion(
        duration_s=round(decoded_s, 3),
        source_format=info.format,
        source_sample_rate=info.sample_rate,
        gain_db=round(gain, 2),
        loudness_dbfs=round(loudness, 2),
        peak_dbfs=round(peak_db, 2),
        clip_fraction=clip_fraction,
        bandwidth_hz=round(bandwidth, 1),
        warnings=warnings,
    )
