"""Speaker consistency: resemblyzer embeddings compared with the dataset's dominant voice."""

from __future__ import annotations

import numpy as np

from provoice.loading import once_per_process


@once_per_process(maxsize=2)
def load_encoder(device: str = "cpu"):
    """resemblyzer's VoiceEncoder (weights ship in the package), once per process."""
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device=device, verbose=False)


def embed(encoder, x16k: np.ndarray) -> np.ndarray | None:
    """A unit-length 256-d embedding of 16 kHz float audio, or None if too little voice remains."""
    from resemblyzer import preprocess_wav

    wav = preprocess_wav(x16k.astype(np.float32), source_sr=16000)
    if wav.size < 16000 * 0.5:
        return None
    e = encoder.embed_utterance(wav)
    return e / (np.linalg.norm(e) + 1e-9)


def mean_direction(embeddings) -> np.ndarray | None:
    """The unit-length mean of unit embeddings (None without any): one voice from several clips."""
    found = [e for e in embeddings if e is not None]
    if not found:
        return None
    mean = np.mean(found, axis=0)
    return (mean / (np.linalg.norm(mean) + 1e-9)).astype(np.float32)


def voice_of(encoder, clips16k) -> np.ndarray | None:
    """The speaker embedding of a set of 16 kHz clips (None if none has enough voice)."""
    return mean_direction(embed(encoder, c) for c in clips16k)


def dominant_speaker(embeddings: np.ndarray, threshold: float, weights: np.ndarray | None = None) -> np.ndarray:
    """The centroid of the largest group of mutually similar embeddings.

    Each embedding counts the (duration-weighted) others within `threshold` cosine of it; the
    centroid of the best-connected one's neighbourhood is the dataset's voice, so a minority of
    another speaker cannot pull it away.
    """
    e = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-9)
    w = np.ones(len(e)) if weights is None else np.asarray(weights, dtype=float)
    sims = e @ e.T
    support = (sims >= threshold) @ w
    best = int(np.argmax(support))
    members = sims[best] >= threshold
    c = (e[members] * w[members, None]).sum(axis=0)
    return c / (np.linalg.norm(c) + 1e-9)


def similarities(embeddings: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    e = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-9)
    return e @ centroid
