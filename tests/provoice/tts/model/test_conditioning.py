"""Zero-initialised voice conditioning leaves the Piper model's behaviour untouched at step 0."""

from __future__ import annotations

import pytest
import torch

from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn


def make_pair() -> tuple[SynthesizerTrn, SynthesizerTrn]:
    """A conditioned and an unconditioned tiny model sharing all Piper weights."""
    torch.manual_seed(0)
    conditioned = SynthesizerTrn(VitsConfig.tiny(gin_channels=16)).eval()
    plain = SynthesizerTrn(VitsConfig.tiny()).eval()
    plain.load_state_dict(conditioned.piper_state_dict(), strict=True)
    return conditioned, plain


def synth(model: SynthesizerTrn, g: torch.Tensor | None) -> torch.Tensor:
    ids = torch.tensor([[1, 5, 9, 23, 7, 2], [1, 4, 8, 2, 0, 0]])
    torch.manual_seed(123)
    return model.infer(ids, torch.tensor([6, 4]), noise_scale=0.667, length_scale=1.0, noise_w=0.8, g=g).audio


def test_zero_initialised_conditioning_keeps_infer_output(single_thread):
    conditioned, plain = make_pair()
    speaker = torch.randn(2, 256)
    reference = synth(plain, None)
    assert torch.equal(synth(conditioned, None), reference)
    assert torch.equal(synth(conditioned, speaker), reference)


def test_conditioning_learns_from_the_first_step(single_thread):
    conditioned, _ = make_pair()
    conditioned.train()
    torch.manual_seed(1)
    spec = torch.rand(1, 513, 20)
    out = conditioned(torch.tensor([[3, 4, 5, 6]]), torch.tensor([4]), spec, torch.tensor([20]), g=torch.randn(1, 256))
    (out.audio.pow(2).mean() + out.z_p.pow(2).mean()).backward()
    assert conditioned.voice.cond_proj.weight.grad.abs().sum() > 0


def test_speaker_embedding_needs_a_conditioned_model():
    _, plain = make_pair()
    with pytest.raises(ValueError, match="no voice conditioning"):
        synth(plain, torch.randn(2, 256))
