"""Piper Lightning checkpoint layout: strict loading, clear errors, round trip."""

from __future__ import annotations

import pytest
import torch

from provoice.tts.errors import CheckpointError
from provoice.tts.formats.piper_ckpt import load_piper_checkpoint, save_piper_checkpoint
from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn, build_discriminator


def tiny_models(seed: int, gin_channels: int = 16):
    torch.manual_seed(seed)
    cfg = VitsConfig.tiny(gin_channels=gin_channels)
    return SynthesizerTrn(cfg), build_discriminator(cfg)


def piper_layout(generator, discriminator) -> dict:
    state = {"model_g." + k: v.clone() for k, v in generator.piper_state_dict().items()}
    state.update({"model_d." + k: v.clone() for k, v in discriminator.state_dict().items()})
    return {"state_dict": state, "global_step": 7, "epoch": 1}


def test_reference_layout_loads_strictly_into_medium(piper_reference):
    state = {}
    for module, prefix in (("generator", "model_g."), ("discriminator", "model_d.")):
        for name, shape in piper_reference[module].items():
            state[prefix + name] = torch.full((), 0.25).expand(shape)
    cfg = VitsConfig.medium()
    generator, discriminator = SynthesizerTrn(cfg), build_discriminator(cfg)
    info = load_piper_checkpoint({"state_dict": state}, generator, discriminator)
    assert info.discriminator_loaded
    assert torch.all(generator.enc_p.emb.weight == 0.25)
    assert torch.all(generator.dec.ups[0].weight_g == 0.25)
    assert torch.all(discriminator.discriminators[5].conv_post.weight_v == 0.25)


def test_round_trip_through_a_file(tmp_path):
    generator, discriminator = tiny_models(0)
    torch.nn.init.normal_(generator.voice.cond_proj.weight)
    path = save_piper_checkpoint(
        tmp_path / "voice.ckpt",
        generator,
        discriminator,
        global_step=42,
        epoch=3,
        metadata={"hyper_parameters": {"x": 1}},
    )
    raw = torch.load(path, weights_only=True)
    assert all(k.startswith(("model_g.", "model_d.")) for k in raw["state_dict"])
    assert not any(".voice." in k for k in raw["state_dict"])
    assert "voice.cond_proj.weight" in raw["provoice_extras"]

    loaded_g, loaded_d = tiny_models(1)
    info = load_piper_checkpoint(path, loaded_g, loaded_d)
    assert info.global_step == 42 and info.epoch == 3 and info.fresh_extras == []
    assert info.metadata["hyper_parameters"] == {"x": 1}
    for original, restored in ((generator, loaded_g), (discriminator, loaded_d)):
        a, b = original.state_dict(), restored.state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_plain_piper_checkpoint_leaves_conditioning_fresh():
    generator, discriminator = tiny_models(0)
    target, _ = tiny_models(1)
    info = load_piper_checkpoint(piper_layout(generator, discriminator), target)
    assert "voice.cond_proj.weight" in info.fresh_extras
    assert torch.all(target.voice.cond_proj.weight == 0)
    assert torch.equal(target.enc_p.emb.weight, generator.enc_p.emb.weight)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s: s.pop("model_g.enc_p.proj.bias"), r"1 missing: model_g\.enc_p\.proj\.bias"),
        (lambda s: s.update({"model_g.emb_g.weight": torch.zeros(2, 2)}), r"1 unexpected: model_g\.emb_g\.weight"),
        (lambda s: s.update({"optimizer.lr": torch.zeros(1)}), r"unexpected: optimizer\.lr"),
        (
            lambda s: s.update({"model_d.discriminators.1.conv_post.bias": torch.zeros(3)}),
            r"mis-shaped: model_d\.discriminators\.1\.conv_post\.bias \(checkpoint \(3,\), model \(1,\)\)",
        ),
    ],
)
def test_malformed_checkpoints_name_the_bad_keys(damage, message):
    generator, discriminator = tiny_models(0)
    checkpoint = piper_layout(generator, discriminator)
    damage(checkpoint["state_dict"])
    target_g, target_d = tiny_models(1)
    with pytest.raises(CheckpointError, match=message):
        load_piper_checkpoint(checkpoint, target_g, target_d)


def test_unusable_files_raise_checkpoint_error(tmp_path):
    generator, discriminator = tiny_models(0)
    assert issubclass(CheckpointError, ValueError)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_piper_checkpoint(tmp_path / "nope.ckpt", generator)
    torch.save({"weights": {}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="'state_dict'"):
        load_piper_checkpoint(tmp_path / "other.ckpt", generator)
    torch.save({"state_dict": {}, "hparams": ValueError("x")}, tmp_path / "pickled.ckpt")
    with pytest.raises(CheckpointError, match="trusted=True"):
        load_piper_checkpoint(tmp_path / "pickled.ckpt", generator)
    full = piper_layout(generator, discriminator)["state_dict"]
    only_g = {"state_dict": {k: v for k, v in full.items() if k.startswith("model_g.")}}
    with pytest.raises(CheckpointError, match="no discriminator weights"):
        load_piper_checkpoint(only_g, generator, discriminator)
