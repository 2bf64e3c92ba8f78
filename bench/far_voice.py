"""A far-from-base voice to develop the fine-tune recipe on: a woman with a British accent.

The only offline base is a US man (Piper `en_US-joe-medium`, trained on a real person's
recordings). espeak-ng voices are far from him too, but robotic: their rhythm and intonation are
rules, so a clone's success on them says little about a real person. This voice keeps what a
recording of a person has and changes who speaks:

- **prosody of a real speaker**: the words are spoken by the Joe Piper voice (a model of real
  recordings), each sentence with its own noise draws and speaking rate, so rhythm and intonation
  vary the way a reading does;
- **another accent**: the text is phonemised as British Received Pronunciation (espeak-ng
  `en-gb-x-rp`: non-rhotic, RP vowels) instead of US English before the voice speaks it;
- **the other sex**: Praat's "Change gender" (PSOLA re-synthesis, through praat-parselmouth) moves
  the pitch to a female median, widens its range and shifts the formants up by the ratio of a
  shorter vocal tract. It kept DNSMOS at 3.18 against Joe's 3.26 on four sentences, where the
  WORLD vocoder (pyworld) fell to 2.3 even with no change at all.

praat-parselmouth is GPL-3, so it runs in a throwaway virtual environment of the bench's own
(`<out>/.praat-venv`, numpy and praat-parselmouth only), never in the project's.

The generator is deterministic (seeded per sentence), so anyone can regenerate the same voice:
`python bench/far_voice.py OUT_DIR` writes training takes and the held-out readings.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from provoice.recordings import JOE_RATE, joe_reads  # noqa: E402

ACCENT = "en-gb-x-rp"
#: Praat "Change gender": formant shift ratio, new pitch median (Hz), pitch range factor. Joe speaks
#: around 125 Hz; an adult woman's median is about 200-220 Hz, her vocal tract 15-20 % shorter.
FORMANT_RATIO = 1.2
PITCH_MEDIAN_HZ = 220.0
PITCH_RANGE = 1.4
RATE = JOE_RATE
DESCRIPTION = (
    f"Joe's Piper voice reading espeak-ng {ACCENT} phonemes, moved by Praat's Change gender to a "
    f"{PITCH_MEDIAN_HZ:.0f} Hz pitch median (range x{PITCH_RANGE}) and formants x{FORMANT_RATIO}: "
    "a British-accented female voice"
)
#: Runs in the throwaway environment: Change gender on each (source, destination) pair of argv.
PRAAT_SCRIPT = """
import sys, numpy as np, parselmouth
from parselmouth.praat import call
formant, median, spread = map(float, sys.argv[1:4])
for src, dst in zip(sys.argv[4::2], sys.argv[5::2]):
    out = call(parselmouth.Sound(src), "Change gender", 75, 600, formant, median, spread, 1.0)
    x = out.values[0]
    np.save(dst, (0.9 * x / max(np.abs(x).max(), 1e-6)).astype(np.float32))
"""


def _joe(text: str, rng: random.Random) -> np.ndarray:
    """Joe reading `text` in RP phonemes, one sentence at a time, with per-sentence variation."""
    return joe_reads(text, rng, accent=ACCENT)


def praat_python(work: Path) -> Path:
    """The interpreter of the bench's own environment with praat-parselmouth (made once)."""
    venv = work / ".praat-venv"
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "numpy", "praat-parselmouth"], check=True)
        (venv / ".ready").touch()
    return python


def to_female(python: Path, audios: list[np.ndarray]) -> list[np.ndarray]:
    """Each take moved to the target voice's pitch and vocal tract, in one Praat process."""
    with tempfile.TemporaryDirectory() as tmp:
        pairs = []
        for i, audio in enumerate(audios):
            src = write(Path(tmp) / f"{i}.wav", audio.astype(np.float32))
            pairs += [str(src), str(Path(tmp) / f"{i}.npy")]
        subprocess.run(
            [str(python), "-c", PRAAT_SCRIPT, str(FORMANT_RATIO), str(PITCH_MEDIAN_HZ), str(PITCH_RANGE), *pairs],
            check=True,
        )
        return [np.load(Path(tmp) / f"{i}.npy") for i in range(len(audios))]


def speak(python: Path, texts: list[str], seeds: list[int]) -> list[np.ndarray]:
    """The far voice reading each text (float32 mono at `RATE`); the same seed gives the same take."""
    return to_female(python, [_joe(text, random.Random(seed)) for text, seed in zip(texts, seeds)])


def write(path: Path, audio: np.ndarray) -> Path:
    import soundfile as sf

    sf.write(path, audio, RATE, subtype="PCM_16")
    return path


def make_takes(python: Path, folder: Path, texts: list[str], per_file: int, seed: int = 11) -> list[Path]:
    """Training takes of `per_file` sentences each, read with pauses between sentences."""
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, len(texts), per_file)
    audios = speak(python, [" ".join(texts[i : i + per_file]) for i in starts], [seed + i for i in starts])
    return [write(folder / f"take-{n:02d}.wav", audio) for n, audio in enumerate(audios)]


def held_out(python: Path, folder: Path, texts: list[str], seed: int = 10_000) -> list[Path]:
    """The voice reading each of `texts` (the evaluation's sentences) once, as the real speaker."""
    folder.mkdir(parents=True, exist_ok=True)
    audios = speak(python, texts, [seed + i for i in range(len(texts))])
    return [write(folder / f"real-{i:02d}.wav", audio) for i, audio in enumerate(audios)]


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from clone_quality import sentences

    from provoice.voice_models.evaluate import HELD_OUT_SENTENCES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--files", type=int, default=25)
    ap.add_argument("--per-file", type=int, default=10)
    args = ap.parse_args()
    python = praat_python(args.out)
    make_takes(python, args.out / "speaker", sentences(args.files * args.per_file), args.per_file)
    held_out(python, args.out / "held-out", list(HELD_OUT_SENTENCES))
    print(f"wrote {args.out}: {DESCRIPTION}")


if __name__ == "__main__":
    main()
