"""What a fine-tune validates against, built from the dataset: held-out real clips and their
voice, fixed validation sentences already phonemised, and the scorer (Whisper WER, speaker
similarity, DNSMOS) that `provoice.tts.train.validation.Validator` calls on the synthesised audio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from provoice.audio.resample import resample, to_16k
from provoice.audio.wavio import read_slice, read_wav_info
from provoice.quality.speaker import embed, mean_direction
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import TextFrontEnd, TrainingItem
from provoice.tts.train import Scorer, ValidationSet
from provoice.voice_models.evaluate import EVAL_BEAM_SIZE, score_audio

#: Sentences synthesised at every validation: none of them is in the evaluation set, so the
#: checkpoint chosen on them is not also graded on them. Ten, because with four or six one
#: misheard word moved a point's WER more than the words breaking did (docs/BENCHMARKS.md).
VALIDATION_SENTENCES = (
    "The engineer checked every cable twice before the final test.",
    "Fresh snow covered the mountain road long before sunrise.",
    "She asked the waiter for a glass of cold water and the menu.",
    "Our neighbours are planning a party for the end of the month.",
    "The children painted a bright yellow sun above the little house.",
    "Turn left at the bakery and walk until you reach the bridge.",
    "The farmer sold his apples and pears at the village fair.",
    "Please remember to lock the back door before you go to bed.",
    "A loud thunderstorm kept the whole family awake last night.",
    "We watched the ships sail slowly out of the harbour at dawn.",
)
#: Held-out real clips decoded for the held-out mel error.
MEL_CLIPS = 4


@dataclass
class HeldOut:
    """The dataset's held-out real speech: its rows, the clips at 16 kHz, each clip's speaker
    embedding (None where too little voice remains) and their voice."""

    rows: list[dict]
    clips16k: list[np.ndarray]
    embeddings: list[np.ndarray | None]
    voice: np.ndarray | None


def load_held_out(storage: Storage, rows: Sequence[dict], encoder) -> HeldOut:
    clips = []
    for r in rows:
        with storage.local_path(storage.key_of(r["audio_uri"])) as wav:
            clips.append(to_16k(read_slice(wav, r["start"], r["end"]), read_wav_info(wav)[0]))
    embeddings = [embed(encoder, c) for c in clips]
    return HeldOut(list(rows), clips, embeddings, mean_direction(embeddings))


def validation_set(
    storage: Storage,
    held: HeldOut,
    front_end: TextFrontEnd,
    sample_rate: int,
    sentences: Sequence[str] = VALIDATION_SENTENCES,
) -> ValidationSet:
    """The sentences phonemised once, and the first `MEL_CLIPS` held-out clips at the model's rate."""
    clips = []
    for r in held.rows[:MEL_CLIPS]:
        with storage.local_path(storage.key_of(r["audio_uri"])) as wav:
            audio = resample(read_slice(wav, r["start"], r["end"]), read_wav_info(wav)[0], sample_rate)
        clips.append(
            TrainingItem(
                phoneme_ids=front_end.phoneme_ids(r["text"]), audio=audio, embedding=held.voice, item_id=r["id"]
            )
        )
    return ValidationSet(
        sentences=list(sentences),
        phoneme_ids=[front_end.phoneme_ids(s) for s in sentences],
        voice=held.voice,
        clips=clips,
    )


def speech_scorer(settings: Settings, encoder, voice: np.ndarray | None, beam_size: int = EVAL_BEAM_SIZE) -> Scorer:
    """WER, similarity to `voice` and DNSMOS of synthesised validation audio (Whisper loaded once)."""
    from provoice.asr.whisper import load_model

    asr = load_model(
        settings.asr_model, settings.resolved_device(), settings.asr_compute_type, settings.asr_cpu_threads
    )

    def score(texts: Sequence[str], audios: Sequence[np.ndarray], rate: int) -> Mapping[str, float]:
        ev = score_audio(texts, audios, rate, asr, encoder, voice, beam_size)
        out = {"wer": ev.wer, "dnsmos": ev.dnsmos}
        if ev.speaker_similarity is not None:
            out["speaker_similarity"] = ev.speaker_similarity
        return out

    return score
