"""One utterance from phoneme ids, and a voice embedding as the model's conditioning input: the
step `provoice.tts.synthesize` (text) and training validation (pre-phonemised ids) share."""

from __future__ import annotations

import numpy as np
import torch

from provoice.tts.errors import ModelMismatch
from provoice.tts.model.synthesizer import SynthesizerTrn


def infer_ids(
    generator: SynthesizerTrn,
    ids: list[int],
    g: torch.Tensor | None,
    *,
    noise_scale: float,
    length_scale: float,
    noise_w: float,
    rng: torch.Generator | None = None,
) -> np.ndarray:
    """One utterance of phoneme ids as float32 audio in [-1, 1] (`g` from `condition`)."""
    device = next(generator.parameters()).device
    with torch.inference_mode():
        out = generator.infer(
            torch.tensor([ids], device=device),
            torch.tensor([len(ids)], device=device),
            noise_scale=noise_scale,
            length_scale=length_scale,
            noise_w=noise_w,
            g=g,
            generator=rng,
        )
    return np.clip(out.audio[0, 0, : int(out.lengths[0])].float().cpu().numpy(), -1.0, 1.0).astype(np.float32)


def infer_ids_timed(
    generator: SynthesizerTrn,
    ids: list[int],
    g: torch.Tensor | None,
    *,
    noise_scale: float,
    length_scale: float,
    noise_w: float,
) -> tuple[np.ndarray, np.ndarray]:
    """As `infer_ids`, with the frames the duration predictor gave each id (for word timestamps)."""
    device = next(generator.parameters()).device
    with torch.inference_mode():
        out = generator.infer(
            torch.tensor([ids], device=device),
            torch.tensor([len(ids)], device=device),
            noise_scale=noise_scale,
            length_scale=length_scale,
            noise_w=noise_w,
            g=g,
        )
    audio = np.clip(out.audio[0, 0, : int(out.lengths[0])].float().cpu().numpy(), -1.0, 1.0).astype(np.float32)
    assert out.durations is not None  # infer always reports them
    return audio, out.durations[0].float().cpu().numpy()


def condition(
    generator: SynthesizerTrn, embedding: np.ndarray | torch.Tensor | None, device: torch.device
) -> torch.Tensor | None:
    """The embedding as the model's `g` [1, speaker_embedding_dim] on `device`; None for a model
    without voice conditioning (or no embedding)."""
    if embedding is None or not generator.config.conditioned:
        return None
    g = torch.as_tensor(np.asarray(embedding, dtype=np.float32)).reshape(1, -1)
    want = generator.config.speaker_embedding_dim
    if g.size(1) != want:
        raise ModelMismatch(f"speaker embedding has {g.size(1)} values; this model takes {want}")
    return g.to(device)
