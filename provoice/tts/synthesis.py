"""Text to audio with a loaded generator: one sentence at a time, joined with short pauses.

Sentence by sentence keeps attention cost and memory bounded for long texts and gives each
sentence its own intonation, as Piper does. Loading models (once per process) is
`provoice.voice_models.model_store.load_for_inference`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from provoice.tts.formats.base_meta import BaseModelMeta
from provoice.tts.model.inference import condition, infer_ids, infer_ids_timed
from provoice.tts.model.synthesizer import SynthesizerTrn
from provoice.tts.sentences import SENTENCE_PAUSE_S, SpokenSentence, spoken_sentences, timed_sentences


def synthesize(
    generator: SynthesizerTrn,
    meta: BaseModelMeta,
    text: str,
    embedding: np.ndarray | torch.Tensor | None = None,
    *,
    noise_scale: float | None = None,
    length_scale: float | None = None,
    noise_w: float | None = None,
    sentence_pause_s: float = SENTENCE_PAUSE_S,
    seed: int | None = None,
) -> tuple[np.ndarray, int]:
    """Float32 mono audio in [-1, 1] at the model's sample rate, and that rate.

    Scales default to the model's own; `embedding` (speaker_embedding_dim floats) conditions a model
    with voice conditioning and is ignored by one without (a Piper base voice speaks as itself).
    Raises `EmptyText` when there is nothing to say.
    """
    pieces = list(
        synthesize_sentences(
            generator,
            meta,
            text,
            embedding,
            noise_scale=noise_scale,
            length_scale=length_scale,
            noise_w=noise_w,
            sentence_pause_s=sentence_pause_s,
            seed=seed,
        )
    )
    return np.concatenate([audio for _, audio in pieces]), meta.sample_rate


def synthesize_sentences(
    generator: SynthesizerTrn,
    meta: BaseModelMeta,
    text: str,
    embedding: np.ndarray | torch.Tensor | None = None,
    *,
    noise_scale: float | None = None,
    length_scale: float | None = None,
    noise_w: float | None = None,
    sentence_pause_s: float = SENTENCE_PAUSE_S,
    seed: int | None = None,
) -> Iterator[tuple[str, np.ndarray]]:
    """(normalised sentence, audio) one sentence at a time as each is made; every piece after the
    first starts with the pause, so the pieces joined are exactly `synthesize`'s audio.

    A `seed` draws the noise from a private `torch.Generator`, so concurrent calls neither share
    nor disturb any random stream.
    """
    scales = meta.inference
    device = next(generator.parameters()).device
    g = condition(generator, embedding, device)
    rng = None
    if seed is not None:
        rng = torch.Generator(device=device)
        rng.manual_seed(seed)
    yield from spoken_sentences(
        meta,
        text,
        sentence_pause_s,
        lambda ids: infer_ids(
            generator,
            ids,
            g,
            noise_scale=scales.noise_scale if noise_scale is None else noise_scale,
            length_scale=scales.length_scale if length_scale is None else length_scale,
            noise_w=scales.noise_w if noise_w is None else noise_w,
            rng=rng,
        ),
    )


def synthesize_timed(
    generator: SynthesizerTrn,
    meta: BaseModelMeta,
    text: str,
    embedding: np.ndarray | torch.Tensor | None = None,
    *,
    length_scale: float | None = None,
    sentence_pause_s: float = SENTENCE_PAUSE_S,
) -> Iterator[SpokenSentence]:
    """`synthesize_sentences` with each sentence's word timestamps, at the model's noise scales."""
    scales = meta.inference
    g = condition(generator, embedding, next(generator.parameters()).device)
    ls = scales.length_scale if length_scale is None else length_scale
    yield from timed_sentences(
        meta,
        text,
        sentence_pause_s,
        lambda ids: infer_ids_timed(
            generator, ids, g, noise_scale=scales.noise_scale, length_scale=ls, noise_w=scales.noise_w
        ),
    )
