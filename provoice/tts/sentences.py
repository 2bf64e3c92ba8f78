"""The sentence loop every synthesis backend shares (torch and onnxruntime), without torch."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from provoice.tts.formats.base_meta import BaseModelMeta

SENTENCE_PAUSE_S = 0.25


def spoken_sentences(meta: BaseModelMeta, text: str, sentence_pause_s: float,
                     render: Callable[[list[int]], np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """The text's sentences rendered one at a time by `render` (phoneme ids → audio), each after
    the first led by the pause: the loop every synthesis backend shares."""
    pause = np.zeros(round(sentence_pause_s * meta.sample_rate), dtype=np.float32)
    for i, (sentence, ids) in enumerate(meta.front_end().sentence_units(text)):
        audio = render(ids)
        yield sentence, (np.concatenate([pause, audio]) if i else audio)
