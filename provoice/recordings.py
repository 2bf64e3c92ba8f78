"""Uploads that sound like real ones, for tests and benchmarks; nothing here is needed to serve users.

The owner's voice is Piper's `en_US-joe-medium` (a model of a real person's recordings), each
sentence read with its own noise draws and speaking rate, so rhythm and intonation vary the way a
reading does. The second person (an interviewer, the cafe's babble) is espeak-ng, far from Joe.
Each case carries what real takes carry: room tone and reverberation, stereo at 44.1/48 kHz, lossy
codecs, a phone's band, a cafe, an overdriven or limiter-crushed take, music at the start or under
the speech. Everything is seeded, so the same arguments write the same audio.
"""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from provoice.quality import checks
from provoice.synthetic import OTHER_VOICE, speak

if TYPE_CHECKING:
    from provoice.tts.text import TextFrontEnd

#: Joe's output rate; every case is mixed at this rate, then resampled to its container's rate.
JOE_RATE = 22050
BABBLE_VOICES = ("en-us+m3", "en-gb+f2", "en-us+f4", "en-gb+m2")

SCRIPT = [
    "The weather was bright and clear when the train left the station.",
    "She placed the old map on the table and traced the river with her finger.",
    "A careful editor reads every sentence twice before it is published.",
    "The library opens early on weekdays and closes late on Fridays.",
    "He poured a cup of coffee and started to write the quarterly report.",
    "Small changes in the recipe made the bread taste much better.",
    "The children built a tall tower out of wooden blocks and paper cups.",
    "Our neighbours planted tomatoes along the fence last spring.",
    "The museum will show a collection of maps from the eighteenth century.",
    "Please remember to water the plants while we are away.",
    "The bus was late again, so we walked the last mile to work.",
    "Every evening the fishermen mend their nets by the harbour wall.",
    "My grandfather kept a diary for more than sixty years.",
    "The committee agreed to meet again at the end of the month.",
    "A gentle wind carried the smell of pine across the valley.",
    "They painted the kitchen a warm shade of yellow.",
    "The doctor asked him to rest for a week before returning to work.",
    "We counted forty seven boats in the bay this morning.",
    "The baker wakes before dawn to light the ovens.",
    "Her first novel was written on a borrowed typewriter.",
    "The path climbs steeply through the forest to an old stone tower.",
    "Most of the guests arrived just before the speeches began.",
    "The engineers tested the bridge with a line of heavy trucks.",
    "On clear nights you can see the lights of the city from the hill.",
    "The teacher read the story aloud while the class listened quietly.",
    "A flock of geese flew low over the frozen lake.",
    "He repaired the bicycle with a spanner and a little patience.",
    "The market sells fresh cheese, honey and bread every Saturday.",
    "Nobody noticed that the clock in the hall had stopped.",
    "The orchestra rehearsed the final movement three more times.",
    "She learned to sail on a small lake near her parents' farm.",
    "The river rose quickly after two days of heavy rain.",
    "A good pair of boots makes a long walk much easier.",
    "The letters were tied with ribbon and kept in a wooden box.",
    "Our train was delayed by a fallen tree on the line.",
    "The garden looks its best in the last weeks of June.",
    "He spent the afternoon sorting old photographs into albums.",
    "The new road will open to traffic later this year.",
    "Visitors are asked to leave their umbrellas at the door.",
    "The cat slept in a patch of sunlight on the windowsill.",
    "Three students won prizes for their work on renewable energy.",
    "The lighthouse keeper climbed the stairs every evening at dusk.",
    "Fresh snow covered the fields by the time we woke up.",
    "The recipe calls for two eggs, a cup of flour and a pinch of salt.",
    "She answered every question calmly and with a smile.",
    "The old mill by the stream has been turned into a small hotel.",
    "We stopped at a roadside stall to buy strawberries.",
    "The audience stood and applauded for several minutes.",
]
#: Phrases the generated sentences beyond `SCRIPT` are made of (larger scales need thousands).
_SUBJECTS = ("My sister", "The old farmer", "Our new neighbour", "A quiet student", "The captain", "Her uncle")
_VERBS = ("carried", "painted", "repaired", "found", "sold", "described", "borrowed", "cleaned")
_OBJECTS = ("a wooden chair", "the garden gate", "three baskets of apples", "a silver kettle", "the blue bicycle")
_PLACES = ("near the harbour", "behind the school", "at the market", "beside the lake", "across the bridge")
_TIMES = ("on Monday", "before the storm", "last night", "during the holidays", "after lunch", "every autumn")

HOST_QUESTIONS = [
    "So tell me, how did your interest in beekeeping begin?",
    "Which composer inspired you when you were a teenager?",
    "Was there a moment you nearly abandoned the whole expedition?",
    "How do volunteers usually discover your organisation?",
    "What would you recommend to listeners starting tomorrow?",
    "Did the festival attract many international visitors?",
]


class Expect(Enum):
    """What the preparation must decide for a file's owner speech."""

    ACCEPTED = "accepted"
    WARNED = "warned"
    REJECTED = "rejected"
    PARTLY = "partly"  # the owner's lines kept, everyone else's excluded


@dataclass
class CorpusFile:
    """One written upload and what preparing it must give.

    `other_script` holds the sentences spoken by anyone other than the owner: none of their words
    that the owner does not also say may reach the manifest. `reason` is the category (the text
    before the colon) of the rejection or warning the pipeline must give, None when it gives none.
    """

    path: Path
    case: str
    owner_script: list[str]
    other_script: list[str]
    expect: Expect
    reason: str | None


def script(count: int, start: int = 0) -> list[str]:
    """`count` distinct sentences from position `start`: `SCRIPT` first, then generated ones."""
    out = []
    for i in range(start, start + count):
        if i < len(SCRIPT):
            out.append(SCRIPT[i])
            continue
        k = i - len(SCRIPT)
        parts = []
        for phrases in (_SUBJECTS, _VERBS, _OBJECTS, _PLACES, _TIMES):
            parts.append(phrases[k % len(phrases)])
            k //= len(phrases)
        out.append(" ".join(parts) + ".")
    return out


class JoeVoice:
    """Piper's `en_US-joe-medium` on onnxruntime, its two noise draws (the graph's RandomNormalLike
    nodes, unseeded in the export) seeded with `noise_seed`: a voice made with the same seed reads
    the same texts, in the same order, identically."""

    def __init__(self, noise_seed: int = 0):
        import onnx
        import onnxruntime as ort

        from provoice.tts.formats import default_voice_path
        from provoice.tts.text import PhonemeMap

        path = default_voice_path()
        model = onnx.load(str(path))
        for k, node in enumerate(n for n in model.graph.node if n.op_type == "RandomNormalLike"):
            node.attribute.append(onnx.helper.make_attribute("seed", float(noise_seed * 7919 + k)))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.phonemes = PhonemeMap.from_dict(json.loads(Path(f"{path}.json").read_text())["phoneme_id_map"])
        self._front_ends: dict[str, TextFrontEnd] = {}

    def reads(self, text: str, rng: random.Random, *, accent: str = "en-us") -> np.ndarray:
        """Joe reading `text` (float64 at `JOE_RATE`), one sentence at a time: each sentence draws its
        own noise scales and speaking rate and is followed by a pause of 0.25–0.45 s. `accent` is the
        espeak-ng voice that phonemises the text (e.g. `en-gb-x-rp` for British RP)."""
        from provoice.tts.text import TextFrontEnd

        if accent not in self._front_ends:
            self._front_ends[accent] = TextFrontEnd(self.phonemes, espeak_voice=accent)
        front_end = self._front_ends[accent]
        pieces = []
        for ids in front_end.sentence_ids(text):
            scales = np.array([rng.uniform(0.55, 0.75), rng.uniform(0.88, 1.05), rng.uniform(0.7, 0.9)], np.float32)
            feeds = {"input": np.array([ids], np.int64), "input_lengths": np.array([len(ids)], np.int64)}
            pieces.append(self.session.run(None, {**feeds, "scales": scales})[0].reshape(-1))
            pieces.append(np.zeros(int(JOE_RATE * rng.uniform(0.25, 0.45)), np.float32))
        return np.concatenate(pieces[:-1]).astype(np.float64)


@lru_cache(maxsize=1)
def _shared_joe() -> JoeVoice:
    return JoeVoice()


def joe_reads(text: str, rng: random.Random, *, accent: str = "en-us") -> np.ndarray:
    """`JoeVoice.reads` on one voice shared by the process (repeatable for the same calls in order)."""
    return _shared_joe().reads(text, rng, accent=accent)


def espeak_reads(text: str, voice: str = OTHER_VOICE) -> np.ndarray:
    """espeak-ng reading `text` (float64 at `JOE_RATE`, espeak's own rate)."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        x, rate = sf.read(speak(text, Path(tmp) / "speech.wav", voice), dtype="float64")
    if rate != JOE_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {JOE_RATE} Hz")
    return x


# --- what rooms, equipment and places do to a take -------------------------------------------------


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * JOE_RATE))


def _active_rms(x: np.ndarray) -> float:
    """RMS of the louder half of 30 ms frames: the speech level, not the pauses'."""
    n = int(0.03 * JOE_RATE)
    frames = x[: x.size // n * n].reshape(-1, n)
    e = np.sort(np.mean(frames**2, axis=1))
    return float(np.sqrt(np.mean(e[e.size // 2 :])))


def _at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return x * (10 ** (dbfs / 20) / (_active_rms(x) + 1e-12))


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f power spectrum, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    y = np.fft.irfft(spectrum, n)
    return y / (np.std(y) + 1e-12)


def room_tone(n: int, rng: np.random.Generator, dbfs: float = -62.0) -> np.ndarray:
    """A quiet room: pink noise with a faint 50 Hz hum and its harmonics."""
    t = np.arange(n) / JOE_RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in (1, 2, 3))
    return 10 ** (dbfs / 20) * (_pink(n, rng) + 0.3 * hum)


def room_response(t60: float, rng: np.random.Generator, direct_to_reverb_db: float) -> np.ndarray:
    """A room's impulse response: the direct sound, then a tail decaying 60 dB in `t60` seconds."""
    t = np.arange(int(1.2 * t60 * JOE_RATE)) / JOE_RATE
    tail = rng.standard_normal(t.size) * np.exp(-6.91 * t / t60)
    tail[: int(0.004 * JOE_RATE)] = 0.0
    tail *= 10 ** (-direct_to_reverb_db / 20) / (np.sqrt(np.sum(tail**2)) + 1e-12)
    tail[0] = 1.0
    return tail


def reverberate(x: np.ndarray, t60: float, rng: np.random.Generator, direct_to_reverb_db: float) -> np.ndarray:
    from scipy.signal import fftconvolve

    return fftconvolve(x, room_response(t60, rng, direct_to_reverb_db))[: x.size]


def music(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Piano-like chords over a bass line with a hi-hat on the eighths, unit peak."""
    beat = 0.5
    n = int(seconds * JOE_RATE)
    out = np.zeros(n)
    t_note = np.arange(int(4 * beat * JOE_RATE)) / JOE_RATE
    progression = ([0, 4, 7], [7, 11, 14], [9, 12, 16], [5, 9, 12])  # I V vi IV in C
    for bar, start in enumerate(range(0, n, t_note.size)):
        chord = progression[(bar + int(rng.integers(0, 4))) % 4]
        note = np.zeros(t_note.size)
        for semitone in [*chord, chord[0] - 12]:
            f = 261.6 * 2 ** (semitone / 12)
            note += sum(np.sin(2 * np.pi * f * k * t_note) / k**1.5 for k in (1, 2, 3, 4))
        note *= np.exp(-t_note / 0.9) * np.minimum(1.0, t_note / 0.01)
        stop = min(n, start + note.size)
        out[start:stop] += note[: stop - start]
    hat = rng.standard_normal(int(0.03 * JOE_RATE)) * np.exp(-np.arange(int(0.03 * JOE_RATE)) / (0.006 * JOE_RATE))
    hat = np.diff(hat, prepend=0.0)
    for start in range(0, n - hat.size, int(beat / 2 * JOE_RATE)):
        out[start : start + hat.size] += 0.6 * hat
    return out / (np.max(np.abs(out)) + 1e-12)


def babble(n: int, rng: np.random.Generator) -> np.ndarray:
    """A cafe: other people's voices, cups and cutlery, and the room, unit RMS."""
    out = np.zeros(n)
    for i, voice in enumerate(BABBLE_VOICES):
        talk = espeak_reads(" ".join(script(4, 200 + 4 * i)), voice)
        talk = np.tile(talk, n // talk.size + 2)
        offset = int(rng.integers(0, talk.size - n))
        out += talk[offset : offset + n] / (np.std(talk) + 1e-12)
    out = reverberate(out, 0.6, rng, direct_to_reverb_db=-3.0)
    out = out / np.std(out) + 0.5 * _pink(n, rng)
    clink = np.sin(2 * np.pi * 3100 * np.arange(int(0.08 * JOE_RATE)) / JOE_RATE)
    clink *= np.exp(-np.arange(clink.size) / (0.012 * JOE_RATE))
    for start in rng.integers(0, n - clink.size, size=max(1, int(n / JOE_RATE))):
        out[start : start + clink.size] += rng.uniform(3, 8) * clink
    return out / np.std(out)


def telephone(x: np.ndarray) -> tuple[np.ndarray, int]:
    """A phone line: 300–3,400 Hz, 8 kHz sampling."""
    from scipy.signal import butter, resample_poly, sosfilt

    band = sosfilt(butter(6, [300, 3400], btype="bandpass", fs=JOE_RATE, output="sos"), x)
    return resample_poly(band, 160, 441), 8000


def hard_clip(x: np.ndarray, drive_db: float) -> np.ndarray:
    """An overdriven input stage: the peaks cut flat at full scale."""
    return np.clip(x / np.max(np.abs(x)) * 10 ** (drive_db / 20), -1.0, 1.0)


def brick_wall(x: np.ndarray, drive_db: float, ceiling_dbfs: float = -1.0) -> np.ndarray:
    """A look-ahead limiter driven hard: the gain follows every peak, so nothing reaches full scale
    but the dynamics are crushed (the crest factor falls towards a square wave's)."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

    y = x / np.max(np.abs(x)) * 10 ** (drive_db / 20)
    ceiling = 10 ** (ceiling_dbfs / 20)
    window = int(0.005 * JOE_RATE)
    need = np.minimum(1.0, ceiling / np.maximum(maximum_filter1d(np.abs(y), 2 * window + 1), 1e-9))
    # The smoothed gain never exceeds what any sample in its window needs: no sample passes the ceiling.
    gain = uniform_filter1d(minimum_filter1d(need, window), window)
    return np.clip(y * gain, -ceiling, ceiling)


# --- writing files ---------------------------------------------------------------------------------


def _resampled(x: np.ndarray, rate: int) -> np.ndarray:
    from provoice.audio.resample import resample

    return resample(x, JOE_RATE, rate).astype(np.float64)


def _stereo(x: np.ndarray, rate: int) -> np.ndarray:
    """Two microphones a little apart: the right channel 0.4 ms later and 1.5 dB quieter."""
    delay = int(0.0004 * rate)
    right = np.concatenate([np.zeros(delay), x[: x.size - delay]]) * 10 ** (-1.5 / 20)
    return np.stack([x, right], axis=1)


def _write(path: Path, x: np.ndarray, rate: int, codec: list[str]) -> Path:
    """`x` (mono or frames × channels, float) encoded by ffmpeg with `codec` arguments."""
    x = np.asarray(x, dtype="<f4")
    channels = 1 if x.ndim == 1 else x.shape[1]
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "-"]
    subprocess.run(
        [*cmd, *codec, "-map_metadata", "-1", "-fflags", "+bitexact", str(path)], input=x.tobytes(), check=True
    )
    return path


_FLAC = ["-c:a", "flac", "-sample_fmt", "s16"]
_WAV16 = ["-c:a", "pcm_s16le"]
_WAV24 = ["-c:a", "pcm_s24le"]
_MP3 = ["-c:a", "libmp3lame", "-b:a", "128k"]
_AAC = ["-c:a", "aac", "-b:a", "128k", "-f", "ipod"]
_OPUS = ["-c:a", "libopus", "-b:a", "48k", "-f", "ogg"]
_VORBIS = ["-c:a", "libvorbis", "-q:a", "4", "-f", "ogg"]


class _Reader:
    """Joe reading distinct sentences of the script, case after case, each case with its own seed."""

    def __init__(self, scale: float, seed: int):
        self.scale, self.seed, self.next = scale, seed, 0
        self.voice = JoeVoice(seed)

    def take(self, sentences: int, case: int, *, scaled: bool = True) -> tuple[list[str], np.ndarray]:
        count = max(1, round(sentences * self.scale)) if scaled else sentences
        lines = script(count, self.next)
        self.next += count
        audio = self.voice.reads(" ".join(lines), random.Random(self.seed * 1000 + case))
        return lines, audio


def realistic_corpus(folder: str | Path, *, scale: float = 1.0, seed: int = 0) -> list[CorpusFile]:
    """Write the realistic uploads into `folder` and return what preparing each must give.

    `scale` multiplies the number of sentences per case (1.0: about 2.5 minutes of audio in all).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reader = _Reader(scale, seed)
    files: list[CorpusFile] = []

    def owner_take(sentences: int) -> tuple[np.random.Generator, list[str], np.ndarray]:
        index = len(files)
        lines, speech = reader.take(sentences, index)
        return np.random.default_rng([seed, index]), lines, speech

    def add(
        name: str,
        suffix: str,
        x: np.ndarray,
        rate: int,
        codec: list[str],
        lines: list[str],
        expect: Expect,
        reason: str | None = None,
        other: list[str] | None = None,
    ) -> None:
        path = _write(folder / f"{len(files):02d}-{name}.{suffix}", x, rate, codec)
        files.append(CorpusFile(path, name, lines, other or [], expect, reason))

    def in_room(
        speech: np.ndarray, rng: np.random.Generator, t60: float = 0.3, drr: float = 8.0, tone: float = -62.0
    ) -> np.ndarray:
        x = np.concatenate([_silence(0.6), speech, _silence(0.8)])
        x = _at_level(reverberate(x, t60, rng, drr), -22.0)
        return x + room_tone(x.size, rng, tone)

    rng, lines, speech = owner_take(3)
    x = _stereo(_resampled(in_room(speech, rng), 44100), 44100)
    add("clean-44k", "flac", x, 44100, _FLAC, lines, Expect.ACCEPTED)

    rng, lines, speech = owner_take(3)
    x = _stereo(_resampled(in_room(speech, rng, 0.25, 12.0), 48000), 48000)
    add("studio-48k", "wav", x, 48000, _WAV24, lines, Expect.ACCEPTED)

    rng, lines, speech = owner_take(3)
    fade_in, fade_out = np.linspace(4.0, 0.0, int(6.0 * JOE_RATE)), np.linspace(0.0, 3.0, int(5.0 * JOE_RATE))
    intro = _at_level(music(6.0, rng), -20.0) * np.minimum(1.0, fade_in)
    outro = _at_level(music(5.0, rng), -20.0) * np.minimum(1.0, fade_out)
    x = np.concatenate([intro, in_room(speech, rng), outro])
    x = _stereo(_resampled(x + room_tone(x.size, rng), 44100), 44100)
    add("chapter-music", "m4a", x, 44100, _AAC, lines, Expect.ACCEPTED)

    # The interview: the host (another voice) asks, the owner answers, in the same room.
    rng = np.random.default_rng([seed, len(files)])
    owner: list[str] = []
    host: list[str] = []
    parts = [_silence(0.5)]
    for q in range(max(1, round(2 * scale))):
        question = HOST_QUESTIONS[q % len(HOST_QUESTIONS)]
        lines, speech = reader.take(2, len(files) * 100 + q, scaled=False)
        parts += [_at_level(espeak_reads(question), -24.0), _silence(1.1), _at_level(speech, -22.0), _silence(1.2)]
        owner += lines
        host.append(question)
    x = reverberate(np.concatenate(parts), 0.3, rng, 8.0)
    x = _resampled(x + room_tone(x.size, rng), 44100)
    add("interview", "mp3", x, 44100, _MP3, owner, Expect.PARTLY, checks.DIFFERENT_SPEAKER, host)

    rng, lines, speech = owner_take(3)
    phone, rate = telephone(in_room(speech, rng, 0.35, 6.0, -55.0))
    add(
        "phone-memo",
        "wav",
        0.7 * phone / np.max(np.abs(phone)),
        rate,
        _WAV16,
        lines,
        Expect.REJECTED,
        checks.TELEPHONE_BAND,
    )

    rng, lines, speech = owner_take(3)
    x = np.concatenate([_silence(0.8), _at_level(speech, -22.0), _silence(0.8)])
    x = x + 10 ** ((-22.0 - 7.0) / 20) * babble(x.size, rng)
    add("cafe", "m4a", _stereo(_resampled(x, 44100), 44100), 44100, _AAC, lines, Expect.REJECTED, checks.NOISY)

    rng, lines, speech = owner_take(2)
    x = _resampled(hard_clip(in_room(speech, rng), 14.0), 44100)
    add("hard-clipped", "wav", x, 44100, _WAV16, lines, Expect.REJECTED, checks.CLIPPING)

    rng, lines, speech = owner_take(2)
    x = _resampled(brick_wall(in_room(speech, rng), 20.0), 44100)
    add("limiter-crushed", "mp3", x, 44100, _MP3, lines, Expect.REJECTED, checks.CRUSHED)

    rng, lines, speech = owner_take(2)
    x = _resampled(in_room(speech, rng, 1.35, -4.0), 44100)
    add("cathedral", "wav", x, 44100, _WAV16, lines, Expect.REJECTED, checks.HEAVY_REVERB)

    rng, lines, speech = owner_take(2)
    x = in_room(speech, rng)
    x = x + _at_level(music(x.size / JOE_RATE, rng), -22.0 - 18.0)
    add(
        "music-bed",
        "mp3",
        _stereo(_resampled(x, 44100), 44100),
        44100,
        _MP3,
        lines,
        Expect.WARNED,
        checks.MUSIC,
    )

    rng, lines, speech = owner_take(3)
    add("session", "opus", _resampled(in_room(speech, rng), 48000), 48000, _OPUS, lines, Expect.ACCEPTED)

    rng, lines, speech = owner_take(3)
    x = _stereo(_resampled(in_room(speech, rng), 44100), 44100)
    add("session", "ogg", x, 44100, _VORBIS, lines, Expect.ACCEPTED)
    return files
