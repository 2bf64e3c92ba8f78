"""VitsConfig and the Piper key layout of the medium model."""

from __future__ import annotations

import json

import pytest

from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn, build_discriminator


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def shapes(module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_tiny_networks_are_small():
    cfg = VitsConfig.tiny()
    assert n_params(SynthesizerTrn(cfg)) < 1_000_000
    assert n_params(build_discriminator(cfg)) < 1_000_000
    assert n_params(SynthesizerTrn(VitsConfig.tiny(gin_channels=16))) < 1_000_000


def test_dict_round_trip_is_json_able():
    cfg = VitsConfig.tiny(gin_channels=16)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert VitsConfig.from_dict(data) == cfg
    assert cfg.segment_size == cfg.segment_frames * cfg.hop_length


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="unknown VitsConfig keys: hiden_channels"):
        VitsConfig.from_dict({"hiden_channels": 4})
    with pytest.raises(ValueError, match="hop_length"):
        VitsConfig(upsample_rates=(8, 8, 2))


def test_medium_matches_piper_state_dict_exactly(piper_reference):
    cfg = VitsConfig.medium()
    generator, discriminator = SynthesizerTrn(cfg), build_discriminator(cfg)
    assert shapes(generator) == piper_reference["generator"]
    assert list(generator.state_dict()) == list(piper_reference["generator"])
    assert shapes(discriminator) == piper_reference["discriminator"]
    assert n_params(generator) == 23_663_792
    assert n_params(discriminator) == 46_747_132


def test_conditioning_stays_outside_piper_keys(piper_reference):
    generator = SynthesizerTrn(VitsConfig.medium(gin_channels=256))
    piper = {k: tuple(v.shape) for k, v in generator.piper_state_dict().items()}
    assert piper == piper_reference["generator"]
    extras = generator.extra_state_dict()
    assert extras and all(k.startswith("voice.") for k in extras)
    assert tuple(extras["voice.cond_proj.weight"].shape) == (256, 256)
