"""Turn a base model into a fine-tunable one and a prepared dataset into training items."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from provoice.audio.resample import resample, to_16k
from provoice.audio.wavio import read_slice, read_wav_info
from provoice.quality.speaker import voice_of
from provoice.storage import Storage
from provoice.tts import SynthesizerTrn, TextFrontEnd, TrainingItem

EMBEDDING_CLIPS_PER_FILE = 6


#: The voice's sites on the text side: what the words sound like and how long they last.
TEXT_SITES = ("enc_p", "dp")


def with_voice_conditioning(
    generator: SynthesizerTrn, gin_channels: int = 64, *, text_side: bool = True
) -> SynthesizerTrn:
    """The same model with voice conditioning added (zero-initialised, so its output is unchanged).

    `text_side=False` zeroes the voice's layers on the text encoder and duration predictor, so the
    voice reaches only the flow, posterior and decoder; kept frozen (the fine-tuning recipe), they
    add nothing, and the words and their timing stay the base's.
    """
    if generator.config.conditioned:
        return generator
    conditioned = SynthesizerTrn(dataclasses.replace(generator.config, gin_channels=gin_channels))
    missing, unexpected = conditioned.load_state_dict(generator.piper_state_dict(), strict=False)
    if unexpected or any(not k.startswith("voice.") for k in missing):
        raise ValueError(f"conditioning changed Piper keys: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if not text_side:
        with torch.no_grad():
            for site in TEXT_SITES:
                getattr(conditioned.voice, site).weight.zero_()
    return conditioned


def source_embeddings(storage: Storage, rows: Sequence[dict], encoder) -> dict[str, np.ndarray]:
    """One unit-length speaker embedding per source file, averaged over a few of its clips.

    Conditioning each utterance on its own source teaches the model to follow the reference clip,
    so different reference clips later give different voices.
    """
    by_file: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        by_file[r["file_id"]].append(r)
    out = {}
    for file_id, items in by_file.items():
        picks = sorted(items, key=lambda r: -r["duration"])[:EMBEDDING_CLIPS_PER_FILE]
        with storage.local_path(storage.key_of(picks[0]["audio_uri"])) as wav:
            rate, _ = read_wav_info(wav)
            voice = voice_of(encoder, [to_16k(read_slice(wav, r["start"], r["end"]), rate) for r in picks])
        if voice is not None:
            out[file_id] = voice
    return out


def training_items(
    storage: Storage,
    rows: Sequence[dict],
    front_end: TextFrontEnd,
    sample_rate: int,
    embeddings: dict[str, np.ndarray] | None = None,
) -> list[TrainingItem]:
    """Manifest rows → phoneme ids, audio at the model's rate and their source's embedding."""
    by_audio: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        by_audio[r["audio_uri"]].append(r)
    items = []
    for audio_uri, group in by_audio.items():
        with storage.local_path(storage.key_of(audio_uri)) as wav:
            rate, _ = read_wav_info(wav)
            for r in group:
                audio = read_slice(wav, r["start"], r["end"])
                audio = resample(audio, rate, sample_rate)
                ids = front_end.phoneme_ids(r["text"])
                emb = (embeddings or {}).get(r["file_id"])
                items.append(TrainingItem(phoneme_ids=ids, audio=audio, embedding=emb, item_id=r["id"]))
    return items
