"""Transformer encoder of the text encoder: multi-head self-attention with windowed relative
positions (learned key/value embeddings for offsets -w..w, shared by heads) and a conv FFN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from provoice.tts.model.layers import LayerNorm


class MultiHeadAttention(nn.Module):
    """Self-attention whose scores and values get a learned term per relative offset |j-i| <= w."""

    def __init__(self, channels: int, out_channels: int, n_heads: int, p_dropout: float, window_size: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.window_size = window_size
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, out_channels, 1)
        self.drop = nn.Dropout(p_dropout)
        n_rel = 2 * window_size + 1
        std = self.k_channels**-0.5
        self.emb_rel_k = nn.Parameter(torch.randn(1, n_rel, self.k_channels) * std)
        self.emb_rel_v = nn.Parameter(torch.randn(1, n_rel, self.k_channels) * std)
        for conv in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(conv.weight)

    def _relative_index(self, length: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """For each (query i, key j): the embedding index j - i + w, and whether it is in the window."""
        pos = torch.arange(length, device=device)
        offset = pos.unsqueeze(0) - pos.unsqueeze(1)
        valid = offset.abs() <= self.window_size
        return (offset + self.window_size).clamp(0, 2 * self.window_size), valid

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        h, d = self.n_heads, self.k_channels
        q = self.conv_q(x).view(b, h, d, t).transpose(2, 3) / math.sqrt(d)
        k = self.conv_k(x).view(b, h, d, t).transpose(2, 3)
        v = self.conv_v(x).view(b, h, d, t).transpose(2, 3)

        rel_index, valid = self._relative_index(t, x.device)
        scores = q @ k.transpose(-2, -1)
        rel_logits = q @ self.emb_rel_k.transpose(-2, -1)  # [b, h, t, 2w+1]
        local = torch.gather(rel_logits, 3, rel_index.expand(b, h, t, t))
        scores = scores + local * valid
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        p_attn = self.drop(F.softmax(scores, dim=-1))

        out = p_attn @ v
        # Attention weight on each relative offset: weights[i, r] = p[i, i + r - w].
        offsets = torch.arange(2 * self.window_size + 1, device=x.device) - self.window_size
        key_pos = torch.arange(t, device=x.device).unsqueeze(1) + offsets.unsqueeze(0)  # [t, 2w+1]
        in_range = (key_pos >= 0) & (key_pos < t)
        rel_weights = torch.gather(p_attn, 3, key_pos.clamp(0, t - 1).expand(b, h, t, -1)) * in_range
        out = out + rel_weights @ self.emb_rel_v
        out = out.transpose(2, 3).reshape(b, c, t)
        return self.conv_o(out)


class FFN(nn.Module):
    """Two 'same'-padded convolutions with ReLU, masked before each convolution."""

    def __init__(
        self, in_channels: int, out_channels: int, filter_channels: int, kernel_size: int, p_dropout: float
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, out_channels, kernel_size)
        self.drop = nn.Dropout(p_dropout)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, ((self.kernel_size - 1) // 2, self.kernel_size // 2))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(self._pad(x * x_mask)))
        x = self.conv_2(self._pad(self.drop(x) * x_mask))
        return x * x_mask


class Encoder(nn.Module):
    """Post-norm transformer: attention and FFN sub-layers, each with residual + LayerNorm."""

    def __init__(
        self,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        p_dropout: float,
        window_size: int = 4,
    ) -> None:
        super().__init__()
        self.drop = nn.Dropout(p_dropout)
        self.attn_layers = nn.ModuleList(
            MultiHeadAttention(hidden_channels, hidden_channels, n_heads, p_dropout, window_size)
            for _ in range(n_layers)
        )
        self.norm_layers_1 = nn.ModuleList(LayerNorm(hidden_channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(
            FFN(hidden_channels, hidden_channels, filter_channels, kernel_size, p_dropout) for _ in range(n_layers)
        )
        self.norm_layers_2 = nn.ModuleList(LayerNorm(hidden_channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
        x = x * x_mask
        for attn, norm_1, ffn, norm_2 in zip(self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2):
            x = norm_1(x + self.drop(attn(x, attn_mask)))
            x = norm_2(x + self.drop(ffn(x, x_mask)))
        return x * x_mask
