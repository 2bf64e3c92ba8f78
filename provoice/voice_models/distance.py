"""How far a voice is from a base model, and what speaker similarity a training budget should reach
from there: what the dataset report and the PVC page tell the voice owner before training.

The distance is the base model's own speaker similarity to the voice (resemblyzer cosine of the
base reading the first `BASE_VOICE_SENTENCES` validation sentences against the dataset's dominant
voice): 1 is the base's own voice. The expectation is the measured fraction of the gap between
that and the ceiling (what the real recordings score against themselves) that the recipe closes
in a budget of CPU minutes (`CLOSED_BY_MINUTES`, from docs/BENCHMARKS.md "clone quality").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from provoice.storage import Storage

if TYPE_CHECKING:
    from provoice.settings import Settings

#: The base model's voice is what it sounds like reading this many of the validation sentences
#: (the voice embedding's spread between single sentences is about 0.02, averaged away over four).
#: A count, not the sentences: reading the stored voice must not import the training stack.
BASE_VOICE_SENTENCES = 4
BASE_VOICE_FILE = "voice.json"
#: (CPU minutes of the recipe, fraction of the base-to-ceiling similarity gap closed), measured on
#: the far-from-base voice (bench/clone_quality.py --voice far: 0.631 -> 0.805 at 12 minutes and
#: 0.848 at 30, ceiling 0.940); the 120-minute point is the log-linear extrapolation of those two,
#: not a measurement. Linear in between, flat beyond.
CLOSED_BY_MINUTES: tuple[tuple[float, float], ...] = ((0.0, 0.0), (12.0, 0.563), (30.0, 0.702), (120.0, 0.91))
#: The ceiling when the real clips' own similarity is not known yet (held-out real speech scored
#: 0.94-0.97 against itself in every benchmark so far).
TYPICAL_CEILING = 0.95
#: Base similarity at or above which a voice is "near" the base, below which it is "far".
NEAR, FAR = 0.75, 0.60


@dataclass(frozen=True)
class VoiceDistance:
    """A voice against a base model, and what a budget should make of it."""

    base_model_id: str
    base_similarity: float
    minutes: float
    expected_similarity: float
    ceiling: float

    @property
    def band(self) -> str:
        if self.base_similarity >= NEAR:
            return "near"
        return "far" if self.base_similarity < FAR else "moderately far"

    def line(self) -> str:
        """One sentence for the owner."""
        return (
            f"This voice is {self.band} from the base model {self.base_model_id} (the base scores "
            f"{self.base_similarity:.2f} speaker similarity to it). With {self.minutes:g} minutes of CPU training "
            f"expect a similarity of about {self.expected_similarity:.2f}, of a possible {self.ceiling:.2f} (a GPU "
            f"goes further in the same time)."
        )


def expected_similarity(base_similarity: float, minutes: float, ceiling: float | None = None) -> float:
    """The similarity the recipe should reach in `minutes` of CPU training from a base that scores
    `base_similarity` against the voice (GPU minutes go further: a minute there is many CPU minutes)."""
    top = TYPICAL_CEILING if ceiling is None else ceiling
    xs, ys = zip(*CLOSED_BY_MINUTES)
    closed = float(np.interp(max(minutes, 0.0), xs, ys))
    return round(base_similarity + closed * max(top - base_similarity, 0.0), 3)


def distance(
    base_model_id: str,
    base_voice: np.ndarray,
    voice: np.ndarray | list[float],
    minutes: float,
    ceiling: float | None = None,
) -> VoiceDistance:
    """The voice (a unit speaker embedding) against the base's voice, for a budget of `minutes`."""
    similarity = round(float(np.dot(base_voice, np.asarray(voice, dtype=np.float32))), 3)
    top = TYPICAL_CEILING if ceiling is None else ceiling
    return VoiceDistance(base_model_id, similarity, minutes, expected_similarity(similarity, minutes, top), top)


def base_voice_key(base_model_id: str) -> str:
    from provoice.voice_models.registry import PREFIX

    return f"{PREFIX}/{base_model_id}/{BASE_VOICE_FILE}"


def stored_base_voice(storage: Storage, base_model_id: str) -> np.ndarray | None:
    """The base model's voice if it was measured (no model is loaded here)."""
    key = base_voice_key(base_model_id)
    if not storage.exists(key):
        return None
    return np.asarray(storage.read_json(key)["voice"], dtype=np.float32)


def measure_base_voice(settings: Settings, base_model_id: str, generator=None, meta=None) -> np.ndarray | None:
    """The base model's voice, measured once and stored beside the model (`voice.json`)."""
    from provoice.audio.resample import to_16k
    from provoice.quality.speaker import load_encoder, voice_of
    from provoice.tts import synthesize
    from provoice.voice_models.registry import BaseModelRegistry
    from provoice.voice_models.validation import VALIDATION_SENTENCES

    sentences = VALIDATION_SENTENCES[:BASE_VOICE_SENTENCES]
    storage = Storage.from_settings(settings)
    found = stored_base_voice(storage, base_model_id)
    if found is not None:
        return found
    if generator is None or meta is None:
        generator, _, meta = BaseModelRegistry(settings).load(base_model_id, with_discriminator=False)
    clips, training = [], generator.training
    generator.eval()
    try:
        for i, text in enumerate(sentences):
            audio, rate = synthesize(generator, meta, text, seed=i)
            clips.append(to_16k(audio, rate))
    finally:
        generator.train(training)
    voice = voice_of(load_encoder("cpu"), clips)
    if voice is None:
        return None
    storage.write_json(
        base_voice_key(base_model_id), {"voice": [round(float(v), 6) for v in voice], "sentences": list(sentences)}
    )
    return voice


def voice_distance(
    settings: Settings,
    base_model_id: str,
    voice: np.ndarray | list[float] | None,
    minutes: float,
    ceiling: float | None = None,
) -> VoiceDistance | None:
    """The voice against the base's stored voice (None until the base's voice was measured, which
    its import and every training start do)."""
    if voice is None:
        return None
    base = stored_base_voice(Storage.from_settings(settings), base_model_id)
    return None if base is None else distance(base_model_id, base, voice, minutes, ceiling)
