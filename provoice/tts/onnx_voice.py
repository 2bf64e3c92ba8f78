"""Synthesis on onnxruntime from an exported voice graph (`provoice.tts.formats.onnx_export`).

The serving path: onnxruntime runs the same medium model about 1.8 × faster than torch on CPU
(docs/BENCHMARKS.md). A graph exported from a conditioned model takes the voice embedding as its
fourth input `g`; a plain Piper voice has Piper's three inputs and speaks as itself. The graph
draws its own sampling noise, so a call cannot choose a seed: seeded synthesis (evaluation,
previews) stays on torch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from provoice.tts.errors import ModelMismatch
from provoice.tts.formats.base_meta import BaseModelMeta
from provoice.tts.sentences import SENTENCE_PAUSE_S, SpokenSentence, spoken_sentences, timed_sentences


class OnnxVoice:
    """One onnxruntime session of a voice graph; `session.run` is thread-safe, so one per process."""

    backend = "onnxruntime"

    def __init__(self, model: bytes, meta: BaseModelMeta, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.meta = meta
        inputs = {i.name: i for i in self.session.get_inputs()}
        self.takes_g = "g" in inputs
        self.embedding_dim = int(inputs["g"].shape[1]) if self.takes_g else 0
        #: Whether the graph gives each phoneme's frames (exported `timed`), for word timestamps.
        self.timed = "durations" in {o.name for o in self.session.get_outputs()}

    def render(
        self, ids: list[int], g: np.ndarray | None, noise_scale: float, length_scale: float, noise_w: float
    ) -> np.ndarray:
        """One utterance of phoneme ids as float32 audio in [-1, 1]."""
        return self._run(["output"], ids, g, noise_scale, length_scale, noise_w)[0]

    def render_timed(
        self, ids: list[int], g: np.ndarray | None, noise_scale: float, length_scale: float, noise_w: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """`render`, with the frames each phoneme id was given (a `timed` graph only)."""
        audio, frames = self._run(["output", "durations"], ids, g, noise_scale, length_scale, noise_w)
        return audio, frames.reshape(-1)

    def _run(
        self,
        outputs: list[str],
        ids: list[int],
        g: np.ndarray | None,
        noise_scale: float,
        length_scale: float,
        noise_w: float,
    ) -> list[np.ndarray]:
        feeds = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([noise_scale, length_scale, noise_w], dtype=np.float32),
        }
        if g is not None:
            feeds["g"] = g
        audio, *rest = self.session.run(outputs, feeds)
        return [np.clip(audio.reshape(-1), -1.0, 1.0).astype(np.float32), *rest]

    def voice_input(self, embedding: np.ndarray | None) -> np.ndarray | None:
        """The embedding as the graph's `g` [1, dim]; None for a graph without it (or no embedding)."""
        if not self.takes_g:
            return None
        if embedding is None:
            return np.zeros((1, self.embedding_dim), dtype=np.float32)
        g = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        if g.shape[1] != self.embedding_dim:
            raise ModelMismatch(f"speaker embedding has {g.shape[1]} values; this model takes {self.embedding_dim}")
        return g

    def sentences(
        self,
        text: str,
        embedding: np.ndarray | None = None,
        *,
        noise_scale: float | None = None,
        length_scale: float | None = None,
        noise_w: float | None = None,
        sentence_pause_s: float = SENTENCE_PAUSE_S,
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(normalised sentence, audio) one sentence at a time, as `provoice.tts.synthesize_sentences`."""
        scales = self.meta.inference
        g = self.voice_input(embedding)
        ns = scales.noise_scale if noise_scale is None else noise_scale
        ls = scales.length_scale if length_scale is None else length_scale
        nw = scales.noise_w if noise_w is None else noise_w
        yield from spoken_sentences(self.meta, text, sentence_pause_s, lambda ids: self.render(ids, g, ns, ls, nw))

    def timed_sentences(
        self,
        text: str,
        embedding: np.ndarray | None = None,
        *,
        length_scale: float | None = None,
        sentence_pause_s: float = SENTENCE_PAUSE_S,
    ) -> Iterator[SpokenSentence]:
        """`sentences` with each sentence's word timestamps (a `timed` graph only)."""
        scales = self.meta.inference
        g = self.voice_input(embedding)
        ls = scales.length_scale if length_scale is None else length_scale
        yield from timed_sentences(
            self.meta,
            text,
            sentence_pause_s,
            lambda ids: self.render_timed(ids, g, scales.noise_scale, ls, scales.noise_w),
        )
