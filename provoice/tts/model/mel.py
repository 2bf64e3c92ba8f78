"""Linear and mel spectrograms as VITS uses them: magnitude STFT (reflect-padded, not centred),
Slaney-scale mel filterbank, log compression with a 1e-5 floor."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from provoice.tts.model.config import VitsConfig


def _hz_to_mel(freq: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    freq = np.asarray(freq, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    mels = freq / f_sp
    above = freq >= min_log_hz
    mels[above] = min_log_mel + np.log(freq[above] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    freq = mels * f_sp
    above = mels >= min_log_mel
    freq[above] = min_log_hz * np.exp(logstep * (mels[above] - min_log_mel))
    return freq


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> torch.Tensor:
    """Triangular Slaney-normalised filters [n_mels, n_fft // 2 + 1] (librosa's default)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(np.array([fmin]))[0], _hz_to_mel(np.array([fmax]))[0], n_mels + 2))
    spacing = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / spacing[:-1, None]
    upper = ramps[2:] / spacing[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2 : n_mels + 2] - mel_freqs[:n_mels]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


class AudioFeatures(nn.Module):
    """Spectrogram extraction for one config; window and filterbank follow the module's device."""

    window: torch.Tensor
    mel_basis: torch.Tensor

    def __init__(self, config: VitsConfig) -> None:
        super().__init__()
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.win_length = config.win_length
        self.register_buffer("window", torch.hann_window(config.win_length), persistent=False)
        basis = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.mel_fmin, config.mel_fmax)
        self.register_buffer("mel_basis", basis, persistent=False)

    def spectrogram(self, audio: torch.Tensor) -> torch.Tensor:
        """Magnitude spectrogram [B, n_fft // 2 + 1, T // hop] of audio [B, T] or [B, 1, T]."""
        if audio.dim() == 3:
            audio = audio.squeeze(1)
        pad = (self.n_fft - self.hop_length) // 2
        audio = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(
            audio.float(),
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=False,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-6)

    def spec_to_mel(self, spec: torch.Tensor) -> torch.Tensor:
        """Log-mel [B, n_mels, T] from a magnitude spectrogram."""
        return torch.log(torch.clamp(self.mel_basis @ spec, min=1e-5))

    def mel(self, audio: torch.Tensor) -> torch.Tensor:
        """Log-mel spectrogram of audio."""
        return self.spec_to_mel(self.spectrogram(audio))
