"""Validation while training, with torch and numpy only: fixed held-out sentences synthesised in
the held-out voice, held-out real clips reconstructed for their mel error, and a preview WAV plus
the scores written next to the run, so an operator can listen to the clone improve.

Scoring the synthesised audio (WER, speaker similarity, DNSMOS) needs Whisper and friends; it is
passed in as `score`, so a bundle-trained GPU node can validate by mel error alone and leave the
audio for a scorer elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from provoice.audio.wavio import wav_bytes
from provoice.tts.model.inference import condition, infer_ids
from provoice.tts.model.losses import mel_loss
from provoice.tts.model.mel import AudioFeatures
from provoice.tts.model.synthesizer import SynthesizerTrn
from provoice.tts.train.batching import TrainingItem
from provoice.tts.train.store import RunStore

PREVIEWS_DIR = "previews"
#: Noise seed of every validation synthesis: the same model always gives the same audio.
VALIDATION_SEED = 0

#: (texts, audio clips, sample rate) -> scores such as {"wer": …, "speaker_similarity": …, "dnsmos": …}.
Scorer = Callable[[Sequence[str], Sequence[np.ndarray], int], Mapping[str, float]]


@dataclass
class ValidationSet:
    """What every validation of one run uses: sentences with their phoneme ids, the held-out
    voice that conditions them, and held-out real clips (ids, audio, embedding) for mel error."""

    sentences: list[str]
    phoneme_ids: list[list[int]]
    voice: np.ndarray | None
    clips: list[TrainingItem]
    noise_scale: float = 0.667
    length_scale: float = 1.0
    noise_w: float = 0.8


def preview_key(prefix: str, step: int, suffix: str = "wav") -> str:
    return f"{prefix.strip('/')}/{PREVIEWS_DIR}/step-{step:09d}.{suffix}"


class Validator:
    """`validate(generator, step)` for `provoice.tts.train.Trainer`: returns the scores as floats
    (`mel` always; whatever `score` adds) and stores `previews/step-N.wav` and `.json`."""

    def __init__(
        self,
        vset: ValidationSet,
        storage: RunStore,
        prefix: str,
        score: Scorer | None = None,
        preview_sentences: int = 1,
    ) -> None:
        self.vset, self.storage, self.prefix, self.score = vset, storage, prefix, score
        self.preview_sentences = preview_sentences

    def __call__(self, generator: SynthesizerTrn, step: int) -> dict[str, float]:
        rate = generator.config.sample_rate
        audios = synthesise_ids(generator, self.vset)
        scores: dict[str, float] = {}
        if self.vset.clips:
            scores["mel"] = held_out_mel_l1(generator, self.vset.clips)
        if self.score is not None:
            scores.update({k: float(v) for k, v in self.score(self.vset.sentences, audios, rate).items()})
        preview = _joined(audios[: self.preview_sentences], rate)
        self.storage.write_bytes(preview_key(self.prefix, step), wav_bytes(preview, rate))
        self.storage.write_json(
            preview_key(self.prefix, step, "json"),
            {
                "step": step,
                "sentences": self.vset.sentences[: self.preview_sentences],
                **{k: round(v, 4) for k, v in scores.items()},
            },
        )
        return scores


def synthesise_ids(generator: SynthesizerTrn, vset: ValidationSet) -> list[np.ndarray]:
    """Each validation sentence as float32 audio at the model's rate (seeded, so repeatable)."""
    device = next(generator.parameters()).device
    g = condition(generator, vset.voice, device)
    rng = torch.Generator(device=device)
    rng.manual_seed(VALIDATION_SEED)
    return [
        infer_ids(
            generator,
            ids,
            g,
            noise_scale=vset.noise_scale,
            length_scale=vset.length_scale,
            noise_w=vset.noise_w,
            rng=rng,
        )
        for ids in vset.phoneme_ids
    ]


def held_out_mel_l1(generator: SynthesizerTrn, clips: Sequence[TrainingItem]) -> float:
    """Mean log-mel L1 of held-out real clips decoded through the posterior: the same measure as
    the training `mel` term, on audio the model never trained on."""
    device = next(generator.parameters()).device
    features = AudioFeatures(generator.config).to(device)
    hop = generator.config.hop_length
    losses = []
    for clip in clips:
        frames = len(clip.audio) // hop
        if frames < 2:
            continue
        audio = torch.from_numpy(np.asarray(clip.audio[: frames * hop], dtype=np.float32)).unsqueeze(0).to(device)
        g = condition(generator, clip.embedding, device)
        with torch.inference_mode():
            spec = features.spectrogram(audio)
            rebuilt = generator.reconstruct(spec, torch.tensor([spec.size(-1)], device=device), g).audio
            n = min(rebuilt.size(-1), audio.size(-1))
            losses.append(float(mel_loss(features.mel(audio[..., :n]), features.mel(rebuilt[:, 0, :n]))))
    return float(np.mean(losses)) if losses else float("nan")


def _joined(audios: Sequence[np.ndarray], rate: int, pause_s: float = 0.3) -> np.ndarray:
    pause = np.zeros(int(pause_s * rate), dtype=np.float32)
    parts: list[np.ndarray] = []
    for i, a in enumerate(audios):
        parts.extend([pause, a] if i else [a])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


__all__ = ["PREVIEWS_DIR", "Scorer", "ValidationSet", "Validator", "held_out_mel_l1", "preview_key", "synthesise_ids"]
