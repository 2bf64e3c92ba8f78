"""The Piper voice config (`<voice>.onnx.json`) that sits next to an exported ONNX voice.

Keys mirror the packaged Piper voices (audio, espeak, inference, phoneme_type, phoneme_map,
phoneme_id_map, num_symbols, num_speakers, speaker_id_map, piper_version, language, dataset).
Piper's runtimes ignore keys they do not know, which is where ProVoice records its own facts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provoice.tts.model.config import VitsConfig

PIPER_VERSION = "1.0.0"


@dataclass(frozen=True)
class InferenceScales:
    """Piper's `scales`: prior noise, speaking-rate factor (larger is slower), duration noise."""

    noise_scale: float = 0.667
    length_scale: float = 1.0
    noise_w: float = 0.8

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> InferenceScales:
        data = data or {}
        defaults = cls()
        return cls(
            float(data.get("noise_scale", defaults.noise_scale)),
            float(data.get("length_scale", defaults.length_scale)),
            float(data.get("noise_w", defaults.noise_w)),
        )


def language_block(espeak_voice: str) -> dict[str, str]:
    """`{"code": "en_US", "family": "en", "region": "US"}` from an espeak voice like `en-us`."""
    parts = espeak_voice.split("+", 1)[0].split("-")
    family = parts[0].lower()
    if len(parts) > 1 and len(parts[1]) == 2:
        region = parts[1].upper()
        return {"code": f"{family}_{region}", "family": family, "region": region}
    return {"code": family, "family": family}


def piper_voice_config(
    config: VitsConfig,
    phoneme_id_map: Mapping[str, Sequence[int]],
    *,
    espeak_voice: str = "en-us",
    scales: InferenceScales | None = None,
    base: Mapping[str, Any] | None = None,
    dataset: str | None = None,
    provoice: Mapping[str, Any] | None = None,
    speaker_id_map: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The voice JSON of an export: single-speaker, or multi-speaker with `speaker_id_map`
    (name -> the `sid` Piper feeds), whose size is `num_speakers`.

    `base` (the base model's own Piper JSON, when it has one) supplies what ProVoice does not
    decide (language names, phoneme type and map, quality); everything the model determines is
    overwritten. `provoice` lands under a `provoice` key.
    """
    ids = [i for values in phoneme_id_map.values() for i in values]
    if ids and max(ids) >= config.n_vocab:
        raise ValueError(f"phoneme_id_map uses id {max(ids)}, the model has {config.n_vocab} symbols")
    scales = scales or InferenceScales()
    voice: dict[str, Any] = copy.deepcopy(dict(base)) if base else {}
    audio = dict(voice.get("audio") or {})
    audio.update(sample_rate=config.sample_rate)
    audio.setdefault("quality", "medium")
    language = dict(voice.get("language") or language_block(espeak_voice))
    voice.update(
        audio=audio,
        espeak={"voice": espeak_voice},
        inference={
            "noise_scale": scales.noise_scale,
            "length_scale": scales.length_scale,
            "noise_w": scales.noise_w,
        },
        phoneme_type=voice.get("phoneme_type", "espeak"),
        phoneme_map=voice.get("phoneme_map", {}),
        phoneme_id_map={symbol: list(values) for symbol, values in phoneme_id_map.items()},
        num_symbols=config.n_vocab,
        num_speakers=max(1, len(speaker_id_map or {})),
        speaker_id_map=dict(speaker_id_map or {}),
        piper_version=voice.get("piper_version", PIPER_VERSION),
        language=language,
    )
    if dataset is not None:
        voice["dataset"] = dataset
    if provoice:
        voice["provoice"] = dict(provoice)
    return voice
