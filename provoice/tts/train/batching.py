"""Training items and length-bucketed, seed-deterministic batch plans.

An epoch's plan is an explicit list of batches (lists of item indices). Checkpoints keep the plan
itself, not only the seed that made it, so a resumed run continues exactly where it stopped even
after an out-of-memory split changed the batch size in the middle of an epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class TrainingItem:
    """One utterance: phoneme ids, float32 audio at the model's sample rate, and the speaker
    embedding of its source file (needed when the model is conditioned, ignored otherwise)."""

    phoneme_ids: list[int]
    audio: np.ndarray
    embedding: np.ndarray | None
    item_id: str


@dataclass
class Batch:
    """Zero-padded tensors for one training step."""

    phoneme_ids: torch.Tensor  # [B, T_x] int64
    phoneme_lengths: torch.Tensor  # [B] int64
    audio: torch.Tensor  # [B, frames * hop] float32
    frame_lengths: torch.Tensor  # [B] int64, spectrogram frames per item
    embeddings: torch.Tensor | None  # [B, speaker_embedding_dim] float32
    audio_seconds: float

    @property
    def size(self) -> int:
        return int(self.phoneme_ids.size(0))

    def to(self, device: torch.device) -> Batch:
        """The batch on `device`; to a GPU from pinned memory, so the copy overlaps the running step."""
        pin = torch.device(device).type == "cuda"

        def move(t: torch.Tensor) -> torch.Tensor:
            return (t.pin_memory() if pin else t).to(device, non_blocking=True)

        return Batch(
            move(self.phoneme_ids),
            move(self.phoneme_lengths),
            move(self.audio),
            move(self.frame_lengths),
            None if self.embeddings is None else move(self.embeddings),
            self.audio_seconds,
        )


def plan_epoch(
    lengths: Sequence[int], batch_size: int, seed: int, epoch: int, bucket_batches: int = 4
) -> list[list[int]]:
    """Batches of similar-length items in a shuffled order that depends only on (seed, epoch).

    Items are sorted by length (ties broken at random), cut into buckets of `bucket_batches`
    batches, shuffled inside each bucket so batch membership varies between epochs, then chunked;
    finally the batches themselves are shuffled.
    """
    if batch_size < 1 or bucket_batches < 1:
        raise ValueError("batch_size and bucket_batches must be at least 1")
    rng = np.random.default_rng([seed, epoch])
    lengths_arr = np.asarray(lengths, dtype=np.int64)
    order = np.lexsort((rng.random(len(lengths_arr)), lengths_arr))
    bucket = batch_size * bucket_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        members = order[start : start + bucket].copy()
        rng.shuffle(members)
        batches.extend(members[i : i + batch_size].tolist() for i in range(0, len(members), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def split_batches(batches: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
    """The same items in the same order, with every batch cut into pieces of at most `batch_size`."""
    return [list(b[i : i + batch_size]) for b in batches for i in range(0, len(b), batch_size)]


def shard(batches: Sequence[Sequence[int]], rank: int, world_size: int) -> list[list[int]]:
    """This rank's batches; every rank gets the same count (the remainder is dropped) so data-parallel
    ranks stay in lock-step."""
    per_rank = len(batches) // world_size
    return [list(b) for b in batches[rank::world_size][:per_rank]]


def collate(items: Sequence[TrainingItem], hop_length: int, sample_rate: int, with_embeddings: bool) -> Batch:
    """Pad a batch; audio is cut to whole frames so spectrogram and waveform windows line up."""
    frames = [len(item.audio) // hop_length for item in items]
    max_ids = max(len(item.phoneme_ids) for item in items)
    ids = torch.zeros(len(items), max_ids, dtype=torch.long)
    audio = torch.zeros(len(items), max(frames) * hop_length, dtype=torch.float32)
    for i, (item, n) in enumerate(zip(items, frames)):
        ids[i, : len(item.phoneme_ids)] = torch.as_tensor(item.phoneme_ids, dtype=torch.long)
        audio[i, : n * hop_length] = torch.from_numpy(np.asarray(item.audio[: n * hop_length], dtype=np.float32))
    embeddings = None
    if with_embeddings:
        embeddings = torch.from_numpy(np.stack([np.asarray(item.embedding, dtype=np.float32) for item in items]))
    return Batch(
        phoneme_ids=ids,
        phoneme_lengths=torch.tensor([len(item.phoneme_ids) for item in items], dtype=torch.long),
        audio=audio,
        frame_lengths=torch.tensor(frames, dtype=torch.long),
        embeddings=embeddings,
        audio_seconds=sum(frames) * hop_length / sample_rate,
    )
