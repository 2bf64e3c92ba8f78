"""A Piper training checkpoint as piper_train (PyTorch Lightning) writes it, made at test time:
`provoice base-model import-piper-ckpt` registers it as a base model with its weights, its
hyper-parameters as the config and its voice JSON's phoneme map, and the base model speaks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import interfaces.cli.base_model  # noqa: F401  # registers the base-model commands
from interfaces.cli import app
from provoice.tts import PhonemeMap, SynthesizerTrn, build_discriminator
from provoice.voice_models import BaseModelRegistry, load_synthesizer

#: A small voice, described only by what a piper_train checkpoint holds: Piper's hyper-parameter names.
HPARAMS = {
    "num_symbols": 256,
    "num_speakers": 1,
    "sample_rate": 22050,
    "filter_length": 1024,
    "hop_length": 256,
    "win_length": 1024,
    "mel_channels": 80,
    "mel_fmin": 0.0,
    "mel_fmax": None,
    "inter_channels": 32,
    "hidden_channels": 32,
    "filter_channels": 64,
    "n_heads": 2,
    "n_layers": 2,
    "kernel_size": 3,
    "p_dropout": 0.1,
    "resblock": "2",
    "resblock_kernel_sizes": [3, 5],
    "resblock_dilation_sizes": [[1, 2], [2, 6]],
    "upsample_rates": [8, 8, 4],
    "upsample_initial_channel": 32,
    "upsample_kernel_sizes": [16, 16, 8],
    "n_layers_q": 3,
    "use_spectral_norm": False,
    "gin_channels": 0,
    "use_sdp": True,
    "segment_size": 8192,
    "learning_rate": 0.0002,
    "batch_size": 32,
    "dataset": ["/data/voice/dataset.jsonl"],
    "quality": "medium",
}


def _lightning_checkpoint(path, generator, discriminator) -> None:
    """The layout of a piper_train `.ckpt`: weights under `model_g.` / `model_d.` in `state_dict`,
    Piper's hyper-parameters, and Lightning's own bookkeeping; nothing of ProVoice."""
    state = {f"model_g.{k}": v.detach().clone() for k, v in generator.piper_state_dict().items()}
    state.update({f"model_d.{k}": v.detach().clone() for k, v in discriminator.state_dict().items()})
    torch.save(
        {
            "epoch": 41,
            "global_step": 12345,
            "pytorch-lightning_version": "1.7.7",
            "state_dict": state,
            "loops": {},
            "callbacks": {},
            "optimizer_states": [{"state": {}, "param_groups": []}],
            "lr_schedulers": [{"last_epoch": 41}],
            "hparams_name": "kwargs",
            "hyper_parameters": HPARAMS,
        },
        path,
    )


@pytest.mark.integration  # a medium discriminator and the base voice measured at import: about 15 s
def test_a_piper_train_checkpoint_imports_as_a_base_model(settings, tmp_path):
    from provoice.voice_models.importers import config_from_checkpoint

    config = config_from_checkpoint({"state_dict": {}, "hyper_parameters": HPARAMS})
    assert (config.hidden_channels, config.n_layers, config.upsample_initial_channel) == (32, 2, 32)
    torch.manual_seed(0)
    generator, discriminator = SynthesizerTrn(config).eval(), build_discriminator(config)
    ckpt = tmp_path / "epoch=41-step=12345.ckpt"
    _lightning_checkpoint(ckpt, generator, discriminator)
    phonemes = PhonemeMap.espeak_default().to_dict()
    voice_json = tmp_path / "voice.onnx.json"
    voice_json.write_text(
        json.dumps(
            {
                "audio": {"sample_rate": 22050},
                "espeak": {"voice": "en-gb-x-rp"},
                "inference": {"noise_scale": 0.5, "length_scale": 1.1, "noise_w": 0.7},
                "phoneme_type": "espeak",
                "phoneme_id_map": phonemes,
                "num_symbols": 256,
                "num_speakers": 1,
                "speaker_id_map": {},
            }
        )
    )

    r = CliRunner().invoke(
        app,
        [
            "base-model",
            "import-piper-ckpt",
            str(ckpt),
            "--id",
            "piper-train-small-v1",
            "--voice-config",
            str(voice_json),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["id"] == "piper-train-small-v1"

    loaded, loaded_d, meta = BaseModelRegistry(settings).load("piper-train-small-v1")
    assert loaded.config == config and meta.espeak_voice == "en-gb-x-rp"
    assert meta.discriminator == "trained" and meta.details["global_step"] == 12345 and meta.details["epoch"] == 41
    assert meta.details["phoneme_map_from"] == str(voice_json) and meta.phoneme_id_map == phonemes
    assert meta.inference.length_scale == 1.1 and meta.inference.noise_w == 0.7
    for mine, theirs in (
        (loaded.piper_state_dict(), generator.piper_state_dict()),
        (loaded_d.state_dict(), discriminator.state_dict()),
    ):
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)

    audio, rate = load_synthesizer(settings, "piper-train-small-v1").synthesize("Hello there.", seed=0)
    assert rate == 22050 and audio.size > 0 and np.isfinite(audio).all()

    again = CliRunner().invoke(
        app,
        [
            "base-model",
            "import-piper-ckpt",
            str(ckpt),
            "--id",
            "piper-train-small-v1",
            "--voice-config",
            str(voice_json),
            "--json",
        ],
    )
    assert again.exit_code == 0 and not json.loads(again.stdout).get("newly_registered", False)
