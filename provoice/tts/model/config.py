"""Hyper-parameters of the VITS model; `medium()` reproduces Piper's "medium" voices exactly."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class VitsConfig:
    """Every size of the generator, discriminator and feature extraction in one place.

    The defaults are Piper "medium"; `gin_channels` > 0 adds ProVoice's voice conditioning
    (a projection of a `speaker_embedding_dim` speaker embedding) outside Piper's parameter set.
    """

    n_vocab: int = 256
    spec_channels: int = 513
    inter_channels: int = 192
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    p_dropout: float = 0.1
    window_size: int = 4
    resblock: str = "2"
    resblock_kernel_sizes: tuple[int, ...] = (3, 5, 7)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 2), (2, 6), (3, 12))
    upsample_rates: tuple[int, ...] = (8, 8, 4)
    upsample_initial_channel: int = 256
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8)
    posterior_layers: int = 16
    posterior_kernel_size: int = 5
    flow_layers: int = 4
    flow_kernel_size: int = 5
    n_flows: int = 4
    use_sdp: bool = True
    dp_kernel_size: int = 3
    dp_p_dropout: float = 0.5
    dp_n_flows: int = 4
    dp_filter_channels: int = 256
    segment_frames: int = 32
    gin_channels: int = 0
    speaker_embedding_dim: int = 256
    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    mel_fmin: float = 0.0
    mel_fmax: float | None = None
    discriminator_periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    disc_scale_channels: tuple[int, ...] = (16, 64, 256, 1024, 1024, 1024)
    disc_scale_groups: tuple[int, ...] = (1, 4, 16, 64, 256, 1)
    disc_period_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)

    def __post_init__(self) -> None:
        problems = []
        if self.spec_channels != self.n_fft // 2 + 1:
            problems.append(f"spec_channels {self.spec_channels} != n_fft // 2 + 1 ({self.n_fft // 2 + 1})")
        if math.prod(self.upsample_rates) != self.hop_length:
            problems.append(f"product of upsample_rates {self.upsample_rates} != hop_length {self.hop_length}")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            problems.append("upsample_rates and upsample_kernel_sizes differ in length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            problems.append("resblock_kernel_sizes and resblock_dilation_sizes differ in length")
        if self.resblock not in ("1", "2"):
            problems.append(f"resblock must be '1' or '2', not {self.resblock!r}")
        if self.hidden_channels % self.n_heads:
            problems.append("hidden_channels must be divisible by n_heads")
        if self.inter_channels % 2:
            problems.append("inter_channels must be even (the coupling flow splits it in halves)")
        if self.upsample_initial_channel % 2 ** len(self.upsample_rates):
            problems.append("upsample_initial_channel must halve cleanly at every upsampling stage")
        if len(self.disc_scale_channels) != len(self.disc_scale_groups):
            problems.append("disc_scale_channels and disc_scale_groups differ in length")
        in_ch = 1
        for out_ch, groups in zip(self.disc_scale_channels, self.disc_scale_groups):
            if in_ch % groups or out_ch % groups:
                problems.append(f"scale discriminator groups {groups} do not divide {in_ch}->{out_ch}")
            in_ch = out_ch
        if self.gin_channels < 0 or self.speaker_embedding_dim <= 0:
            problems.append("gin_channels must be >= 0 and speaker_embedding_dim > 0")
        if problems:
            raise ValueError("invalid VitsConfig: " + "; ".join(problems))

    @property
    def segment_size(self) -> int:
        """Training segment length in audio samples."""
        return self.segment_frames * self.hop_length

    @property
    def conditioned(self) -> bool:
        """Whether the model takes a speaker embedding."""
        return self.gin_channels > 0

    @classmethod
    def medium(cls, **overrides: Any) -> VitsConfig:
        """Piper "medium" (the defaults), optionally with some fields replaced."""
        return cls(**overrides)

    @classmethod
    def tiny(cls, **overrides: Any) -> VitsConfig:
        """A small model (well under 1M parameters per network) for tests and smoke runs."""
        values: dict[str, Any] = dict(
            inter_channels=32,
            hidden_channels=32,
            filter_channels=64,
            n_layers=2,
            p_dropout=0.0,
            resblock_kernel_sizes=(3, 5),
            resblock_dilation_sizes=((1, 2), (2, 6)),
            upsample_initial_channel=32,
            posterior_layers=4,
            flow_layers=2,
            dp_filter_channels=32,
            segment_frames=16,
            disc_scale_channels=(8, 16, 32, 32, 32, 32),
            disc_scale_groups=(1, 2, 4, 4, 4, 1),
            disc_period_channels=(8, 16, 32, 32, 32),
        )
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return _to_plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VitsConfig:
        """Inverse of `to_dict`; unknown keys are an error so typos do not pass silently."""
        require_known_fields(cls, data)
        return cls(**{k: _to_tuple(v) for k, v in data.items()})


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _to_tuple(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuple(v) for v in value)
    return value


def require_known_fields(cls: type, data: dict[str, Any]) -> None:
    """Refuse keys a dataclass does not have, so a typo in a stored config never passes silently."""
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
