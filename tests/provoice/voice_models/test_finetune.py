import numpy as np
import torch

from provoice.tts import SynthesizerTrn
from provoice.tts.model.config import VitsConfig
from provoice.voice_models.finetune import TEXT_SITES, with_voice_conditioning


def _speak(generator: SynthesizerTrn, g: torch.Tensor | None) -> torch.Tensor:
    ids = torch.tensor([[3, 7, 11, 5, 9, 2]])
    return generator.infer(ids, torch.tensor([6]), g=g, generator=torch.Generator().manual_seed(0)).audio


def test_conditioning_starts_as_the_base_and_can_leave_the_text_side_alone():
    torch.manual_seed(0)
    base = SynthesizerTrn(VitsConfig.tiny()).eval()
    conditioned = with_voice_conditioning(base, gin_channels=8, text_side=False).eval()
    g = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 256)).astype(np.float32))
    assert torch.allclose(_speak(base, None), _speak(conditioned, g), atol=1e-6)
    with torch.no_grad():  # as training would move it
        conditioned.voice.cond_proj.weight.normal_(0, 0.1)
    biases = conditioned.voice(g)
    for site in TEXT_SITES:
        assert torch.count_nonzero(getattr(biases, site)) == 0
    assert torch.count_nonzero(biases.dec) > 0 and torch.count_nonzero(biases.flow[0]) > 0
    default = with_voice_conditioning(base, gin_channels=8)
    assert torch.count_nonzero(default.voice.dp.weight) > 0
