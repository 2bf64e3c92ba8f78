"""ProVoice voice conditioning: a speaker embedding steers a Piper single-speaker model.

Piper "medium" voices have no conditioning inputs (gin_channels 0), so the voice enters through
extra layers that add a bias at the text-encoder output, the duration predictor, the posterior
encoder, each coupling layer and the decoder input. `cond_proj` starts at zero, so a freshly
conditioned model computes exactly what the Piper model does; the per-site layers have no bias and
are randomly initialised, so the gradient reaches `cond_proj` from the first step. All these
parameters sit under one attribute (`voice.`), outside the Piper key set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class VoiceBiases:
    """Per-site additive biases, each [B, C, 1]."""

    enc_p: torch.Tensor
    dp: torch.Tensor
    enc_q: torch.Tensor
    flow: list[torch.Tensor]
    dec: torch.Tensor


class VoiceConditioning(nn.Module):
    """Speaker embedding [B, speaker_dim] -> g [B, gin_channels] -> biases for every sub-network."""

    def __init__(
        self,
        speaker_dim: int,
        gin_channels: int,
        hidden_channels: int,
        dp_channels: int,
        decoder_channels: int,
        n_flows: int,
    ) -> None:
        super().__init__()
        self.cond_proj = nn.Linear(speaker_dim, gin_channels)
        nn.init.zeros_(self.cond_proj.weight)
        nn.init.zeros_(self.cond_proj.bias)
        self.enc_p = nn.Linear(gin_channels, hidden_channels, bias=False)
        self.dp = nn.Linear(gin_channels, dp_channels, bias=False)
        self.enc_q = nn.Linear(gin_channels, hidden_channels, bias=False)
        self.flow = nn.ModuleList(nn.Linear(gin_channels, hidden_channels, bias=False) for _ in range(n_flows))
        self.dec = nn.Linear(gin_channels, decoder_channels, bias=False)

    def forward(self, speaker_embedding: torch.Tensor) -> VoiceBiases:
        g = self.cond_proj(speaker_embedding)

        def site(layer: nn.Module) -> torch.Tensor:
            return layer(g).unsqueeze(-1)

        return VoiceBiases(
            enc_p=site(self.enc_p),
            dp=site(self.dp),
            enc_q=site(self.enc_q),
            flow=[site(layer) for layer in self.flow],
            dec=site(self.dec),
        )
