"""Evaluate any model id against a prepared dataset's held-out speech, each model scored once.

A model's own scores are kept (`kept_scores`), keyed by everything they depend on: the first PVC on
a dataset version scores its base model's floor and every later PVC and retrain on that version
reads it back; a retrain reads the new model's scores from its fine-tune's evaluation. Only a
model not yet scored so loads the held-out clips, Whisper and the speaker encoder.
"""

from __future__ import annotations

import functools

from provoice.dataset.outputs import read_manifest
from provoice.quality.speaker import load_encoder
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import synthesize
from provoice.views import Evaluation
from provoice.voice_models.evaluate import (
    EVAL_BEAM_SIZE,
    HELD_OUT_SEGMENTS,
    HELD_OUT_SENTENCES,
    ceiling_similarity,
    combine_seeds,
    evaluate,
    split_held_out,
)
from provoice.voice_models.kept_scores import keep_scores, read_scores, scores_key
from provoice.voice_models.model_store import load_for_inference, model_identity
from provoice.voice_models.validation import HeldOut, load_held_out


def evaluate_model(
    settings: Settings, model_id: str, manifest_uri: str, *, seed: int = 0, with_references: bool = True
) -> Evaluation:
    """Held-out sentences through the model, scored against the dataset's held-out real segments;
    each sentence is read with `settings.eval_seeds` synthesis seeds from `seed` on.

    With `with_references`, the evaluation also carries the ceiling (real held-out clips' own
    similarity to their voice) and the floor (the model's base on the same sentences and voice), so
    a score reads as "0.91 of a possible 0.92, up from 0.52". `seed` draws the synthesis noise.
    """
    scoring = HeldOutScoring(settings, manifest_uri, seed)
    evaluation = scoring.scores(model_id)
    if with_references:
        evaluation.ceiling_similarity = ceiling_similarity(scoring.held.embeddings)
        base_id = model_id.rsplit("/", 1)[0]
        if base_id != model_id:
            evaluation.base = scoring.scores(base_id).model_copy(update={"model_id": base_id})
    return evaluation


class HeldOutScoring:
    """Models scored on one dataset version's held-out speech with one evaluation's settings; the
    held-out clips, Whisper and the encoder are loaded on first need (a kept score needs none)."""

    def __init__(self, settings: Settings, manifest_uri: str, seed: int = 0) -> None:
        self.settings, self.manifest_uri = settings, manifest_uri
        self.storage = Storage.from_settings(settings)
        self.held_rows = split_held_out(read_manifest(self.storage, manifest_uri), HELD_OUT_SEGMENTS)[1]
        self.sentences = list(HELD_OUT_SENTENCES[: settings.eval_sentences])
        self.seeds = list(range(seed, seed + settings.eval_seeds))

    @functools.cached_property
    def encoder(self):
        return load_encoder("cpu")

    @functools.cached_property
    def held(self) -> HeldOut:
        return load_held_out(self.storage, self.held_rows, self.encoder)

    def scores(self, model_id: str) -> Evaluation:
        """The model's own scores: kept ones when it was scored so before, else scored now and kept."""
        resolved, fingerprint = model_identity(self.settings, model_id)
        key = scores_key(
            self.settings,
            model_id=resolved,
            fingerprint=fingerprint,
            manifest_uri=self.manifest_uri,
            held_rows=self.held_rows,
            sentences=self.sentences,
            seeds=self.seeds,
            beam_size=EVAL_BEAM_SIZE,
        )
        kept = read_scores(self.storage, key)
        if kept is not None:
            return kept
        evaluation = self.score(resolved)
        keep_scores(self.storage, key, evaluation)
        return evaluation

    def score(self, model_id: str) -> Evaluation:
        """Synthesise every sentence with every seed and score the readings."""
        from provoice.asr.whisper import load_model

        s = self.settings
        asr = load_model(s.asr_model, s.resolved_device(), s.asr_compute_type, s.asr_cpu_threads)
        generator, meta = load_for_inference(s, model_id)
        voice = self.held.voice
        return combine_seeds(
            [
                evaluate(
                    functools.partial(synthesize, generator, meta, embedding=voice, seed=seed),
                    asr,
                    self.encoder,
                    voice,
                    self.sentences,
                )
                for seed in self.seeds
            ],
            self.seeds,
        )
