"""The synthesis a request gets: onnxruntime where the model has an exported voice graph and runs
on the CPU, torch otherwise, behind one interface.

A fine-tuned model's `model.onnx` takes the voice embedding as an input, so one session per model
and process serves every voice of it. Calls that onnxruntime cannot honour go to torch: a `seed`
(the graph draws its own noise) and a conditioned model spoken without a voice (torch then skips
the conditioning, which a graph with a `g` input cannot).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from provoice.loading import SingleFlight
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts.formats import BaseModelMeta
from provoice.tts.onnx_voice import OnnxVoice
from provoice.tts.sentences import SpokenSentence
from provoice.voice_models.model_store import (
    CACHE_SIZE,
    MODELS_PREFIX,
    export_fingerprint,
    fine_tuned_meta,
    is_fine_tuned,
    load_for_inference,
)

ONNX_NAME = "model.onnx"

_sessions = SingleFlight(maxsize=CACHE_SIZE)


@dataclass
class Synthesizer:
    """Text to audio with one model: `sentences` as each is made, `synthesize` all at once."""

    settings: Settings
    model_id: str
    meta: BaseModelMeta
    onnx: OnnxVoice | None
    device: str

    @property
    def backend(self) -> str:
        return "onnxruntime" if self.onnx is not None else "torch"

    def sentences(
        self, text: str, embedding: np.ndarray | None = None, *, seed: int | None = None, speed: float = 1.0
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(normalised sentence, audio) one sentence at a time; pieces joined are the whole audio.
        `speed` scales the speaking rate (2 is twice as fast) through the model's length scale."""
        length_scale = self.length_scale(speed)
        if self.onnx is not None and seed is None and (embedding is not None or not self.onnx.takes_g):
            yield from self.onnx.sentences(text, embedding, length_scale=length_scale)
            return
        from provoice.tts import synthesize_sentences  # torch, only for this path

        generator, meta = load_for_inference(self.settings, self.model_id, self.device)
        yield from synthesize_sentences(generator, meta, text, embedding, seed=seed, length_scale=length_scale)

    def timed_sentences(
        self, text: str, embedding: np.ndarray | None = None, *, speed: float = 1.0
    ) -> Iterator[SpokenSentence]:
        """As `sentences`, each with its words' times from the model's phoneme durations (on torch
        where the served graph was exported without its durations output)."""
        length_scale = self.length_scale(speed)
        if self.onnx is not None and self.onnx.timed and (embedding is not None or not self.onnx.takes_g):
            yield from self.onnx.timed_sentences(text, embedding, length_scale=length_scale)
            return
        from provoice.tts import synthesize_timed

        generator, meta = load_for_inference(self.settings, self.model_id, self.device)
        yield from synthesize_timed(generator, meta, text, embedding, length_scale=length_scale)

    def synthesize(
        self, text: str, embedding: np.ndarray | None = None, *, seed: int | None = None, speed: float = 1.0
    ) -> tuple[np.ndarray, int]:
        pieces = [audio for _, audio in self.sentences(text, embedding, seed=seed, speed=speed)]
        return np.concatenate(pieces), self.meta.sample_rate

    def length_scale(self, speed: float) -> float:
        """The model's own length scale at the speaking rate `speed` (refused outside 0.25 to 4)."""
        from provoice.audio.output import length_scale_for

        return length_scale_for(self.meta.inference.length_scale, speed)

    @property
    def conditioned(self) -> bool:
        return self.meta.config.conditioned


def load_synthesizer(settings: Settings, model_id: str, device: str | None = None) -> Synthesizer:
    """The synthesizer of any model id; its onnxruntime session (or torch generator) is loaded once
    per process, however many threads ask."""
    device = device or settings.resolved_device()
    storage = Storage.from_settings(settings)
    onnx_key = f"{MODELS_PREFIX}/{model_id}/{ONNX_NAME}"
    if device == "cpu" and is_fine_tuned(model_id) and storage.exists(f"{onnx_key}.json"):
        fingerprint = export_fingerprint(storage, model_id)

        def load() -> OnnxVoice:
            from provoice.voice_models.model_keys import config_key

            meta = fine_tuned_meta(model_id, storage.read_json(config_key(MODELS_PREFIX, model_id)))
            return OnnxVoice(storage.read_bytes(onnx_key), meta)

        voice = _sessions.get((storage.root_uri, model_id, fingerprint), load)
        if voice.takes_g or not voice.meta.config.conditioned:  # a graph with one voice frozen in serves only it
            return Synthesizer(settings, model_id, voice.meta, voice, device)
    _, meta = load_for_inference(settings, model_id, device)
    return Synthesizer(settings, meta.id, meta, None, device)
