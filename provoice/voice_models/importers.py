"""The ways a base model comes in: a Piper ONNX voice, a Piper training checkpoint, or random
weights. Each builds a `NewBaseModel` (weights plus metadata and a content fingerprint); the
registry stores it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from provoice.errors import InvalidSource
from provoice.tts import CheckpointError, PhonemeMap, SynthesizerTrn, TextFrontEnd, VitsConfig, build_discriminator
from provoice.tts.formats import (
    DISCRIMINATOR_PREFIX,
    VOICE_FILE,
    InferenceScales,
    NewBaseModel,
    default_voice_path,
    import_onnx_voice,
    load_piper_checkpoint,
    read_checkpoint,
)
from provoice.voice_models.distill import distill_posterior

PACKAGED_VOICE = VOICE_FILE.removesuffix(".onnx")
#: Piper Lightning hyper-parameter -> VitsConfig field, where the names differ or match.
_HPARAM_FIELDS = {
    "num_symbols": "n_vocab",
    "filter_length": "n_fft",
    "hop_length": "hop_length",
    "win_length": "win_length",
    "mel_channels": "n_mels",
    "sample_rate": "sample_rate",
    "mel_fmin": "mel_fmin",
    "mel_fmax": "mel_fmax",
    "inter_channels": "inter_channels",
    "hidden_channels": "hidden_channels",
    "filter_channels": "filter_channels",
    "n_heads": "n_heads",
    "n_layers": "n_layers",
    "kernel_size": "kernel_size",
    "p_dropout": "p_dropout",
    "resblock": "resblock",
    "resblock_kernel_sizes": "resblock_kernel_sizes",
    "resblock_dilation_sizes": "resblock_dilation_sizes",
    "upsample_rates": "upsample_rates",
    "upsample_initial_channel": "upsample_initial_channel",
    "upsample_kernel_sizes": "upsample_kernel_sizes",
    "use_sdp": "use_sdp",
}


@dataclass(frozen=True)
class OnnxVoice:
    """A Piper voice on disk: the ONNX model, its JSON config and a short name."""

    onnx: Path
    config: Path
    name: str


def resolve_onnx_voice(src: str) -> OnnxVoice:
    """`src` is a path to a Piper `.onnx` (with `.onnx.json` beside it) or the packaged voice name."""
    if src in (PACKAGED_VOICE, VOICE_FILE):
        try:
            onnx = default_voice_path()
        except FileNotFoundError as exc:
            raise InvalidSource(str(exc)) from exc
    else:
        onnx = Path(src).expanduser()
        if not onnx.is_file():
            raise InvalidSource(
                f"no Piper voice at {src!r}: give a path to a .onnx file (with its .onnx.json beside it) "
                f"or the packaged name {PACKAGED_VOICE}"
            )
    config = onnx.with_name(onnx.name + ".json")
    if not config.is_file():
        raise InvalidSource(f"Piper voice {onnx} has no config beside it (expected {config.name})")
    return OnnxVoice(onnx, config, onnx.name.removesuffix(".onnx"))


def onnx_fingerprint(voice: OnnxVoice, steps: int, seed: int) -> str:
    """Content identity of an import: the voice's files and the distillation settings."""
    digest = hashlib.sha256()
    for path in (voice.onnx, voice.config):
        digest.update(_file_sha256(path).encode())
    digest.update(json.dumps({"kind": "piper-onnx", "steps": steps, "seed": seed}).encode())
    return digest.hexdigest()


def build_from_piper_onnx(
    voice: OnnxVoice,
    *,
    steps: int = 200,
    seed: int = 0,
    on_step: Callable[[int, int], None] | None = None,
) -> NewBaseModel:
    """Generator weights from the ONNX, the posterior encoder distilled from the generator itself
    (`provoice.voice_models.distill`); no discriminator is stored (the trainer warms up a fresh one)."""
    voice_json = _read_json(voice.config)
    if int(voice_json.get("num_speakers", 1)) > 1:
        raise CheckpointError(f"{voice.name} is a multi-speaker voice; only single-speaker voices can be imported")
    config = VitsConfig.medium(
        n_vocab=int(voice_json.get("num_symbols", 256)),
        sample_rate=int((voice_json.get("audio") or {}).get("sample_rate", 22050)),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = SynthesizerTrn(config)
    report = import_onnx_voice(generator, voice.onnx)
    front_end = TextFrontEnd.from_voice_config(voice_json)
    distilled = distill_posterior(generator, front_end, steps=steps, seed=seed, on_step=on_step)
    fresh = sorted({_group(k) for k in report.fresh if not k.startswith("enc_q.")})
    return NewBaseModel(
        generator=generator.eval(),
        phoneme_id_map=front_end.phoneme_map.to_dict(),
        source={"kind": "piper-onnx", "name": voice.name, "path": str(voice.onnx), "sha256": _file_sha256(voice.onnx)},
        fingerprint=onnx_fingerprint(voice, steps, seed),
        discriminator=None,
        discriminator_state="fresh",
        espeak_voice=front_end.espeak_voice,
        inference=InferenceScales.from_dict(voice_json.get("inference")),
        details={
            "distillation": distilled.to_dict(),
            "untrained_groups": fresh,
            "language": (voice_json.get("language") or {}).get("code"),
            "dataset": voice_json.get("dataset"),
        },
    )


def ckpt_fingerprint(path: str | Path, voice_config: str | Path | None, espeak_voice: str) -> str:
    """Content identity of a checkpoint import: its bytes, the voice config's and the espeak voice."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    digest = hashlib.sha256(_file_sha256(path).encode())
    if voice_config is not None:
        digest.update(_file_sha256(Path(voice_config)).encode())
    digest.update(json.dumps({"kind": "piper-ckpt", "espeak_voice": espeak_voice}).encode())
    return digest.hexdigest()


def build_from_piper_ckpt(
    path: str | Path,
    *,
    voice_config: str | Path | None = None,
    espeak_voice: str = "en-us",
    trusted: bool = False,
    fingerprint: str | None = None,
) -> NewBaseModel:
    """A Piper Lightning checkpoint: its config from `provoice_config` or Piper's hyper-parameters
    (Piper medium when it has neither), the phoneme map from `voice_config` (a Piper voice JSON),
    else from the checkpoint, else Piper's default espeak map."""
    path = Path(path)
    checkpoint = read_checkpoint(path, trusted=trusted)
    config = config_from_checkpoint(checkpoint)
    voice_json = _read_json(Path(voice_config)) if voice_config is not None else {}
    generator = SynthesizerTrn(config)
    has_discriminator = any(str(k).startswith(DISCRIMINATOR_PREFIX) for k in checkpoint["state_dict"])
    discriminator = build_discriminator(config) if has_discriminator else None
    info = load_piper_checkpoint(checkpoint, generator, discriminator)
    if "phoneme_id_map" in voice_json:
        phonemes = PhonemeMap.from_dict(voice_json["phoneme_id_map"])
        map_source = str(voice_config)
    elif isinstance(checkpoint.get("phoneme_id_map"), Mapping):
        phonemes, map_source = PhonemeMap.from_dict(checkpoint["phoneme_id_map"]), "checkpoint"
    else:
        phonemes, map_source = PhonemeMap.espeak_default(), "piper default espeak map"
    voice = (voice_json.get("espeak") or {}).get("voice") or espeak_voice
    return NewBaseModel(
        generator=generator.eval(),
        phoneme_id_map=phonemes.to_dict(),
        source={"kind": "piper-ckpt", "name": path.stem, "path": str(path), "sha256": _file_sha256(path)},
        fingerprint=fingerprint or ckpt_fingerprint(path, voice_config, espeak_voice),
        discriminator=discriminator,
        discriminator_state="trained" if discriminator is not None else "fresh",
        espeak_voice=voice,
        inference=InferenceScales.from_dict(voice_json.get("inference")),
        details={
            "global_step": info.global_step,
            "epoch": info.epoch,
            "phoneme_map_from": map_source,
            "untrained_groups": sorted({_group(k) for k in info.fresh_extras}),
        },
    )


def config_from_checkpoint(checkpoint: Mapping[str, Any]) -> VitsConfig:
    """The model config a checkpoint was trained with."""
    try:
        if isinstance(checkpoint.get("provoice_config"), Mapping):
            return VitsConfig.from_dict(dict(checkpoint["provoice_config"]))
        hparams = checkpoint.get("hyper_parameters")
        if not isinstance(hparams, Mapping):
            return VitsConfig.medium()
        if int(hparams.get("num_speakers", 1)) > 1:
            raise CheckpointError(
                f"multi-speaker Piper checkpoints ({hparams['num_speakers']} speakers) are not supported; "
                "ProVoice fine-tunes single-speaker voices"
            )
        values = {field: _plain(hparams[key]) for key, field in _HPARAM_FIELDS.items() if key in hparams}
        if "n_fft" in values:
            values["spec_channels"] = values["n_fft"] // 2 + 1
        if "segment_size" in hparams:
            values["segment_frames"] = int(hparams["segment_size"]) // int(values.get("hop_length", 256))
        return VitsConfig.medium(**values)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint hyper-parameters do not describe a VITS model: {exc}") from exc


def build_random(*, tiny: bool = True, seed: int = 0) -> NewBaseModel:
    """Randomly initialised generator and discriminator with Piper's default espeak phoneme map."""
    config = VitsConfig.tiny() if tiny else VitsConfig.medium()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = SynthesizerTrn(config).eval()
        discriminator = build_discriminator(config)
    identity = {"kind": "random", "seed": seed, "config": config.to_dict()}
    return NewBaseModel(
        generator=generator,
        phoneme_id_map=PhonemeMap.espeak_default().to_dict(),
        source={"kind": "random", "name": "tiny" if tiny else "medium", "seed": seed},
        fingerprint=hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest(),
        discriminator=discriminator,
        discriminator_state="random",
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def _group(key: str) -> str:
    """ "dp.post_flows.0.logs" -> "dp.post_flows": the sub-network a parameter belongs to."""
    return ".".join(key.split(".")[:2])


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidSource(f"cannot read voice config {path}: {exc}") from exc


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
