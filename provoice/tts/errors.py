"""Errors raised by the TTS model code."""

from provoice.errors import ProVoiceError


class CheckpointError(ProVoiceError, ValueError):
    """A checkpoint or voice file whose tensors do not fit the model (names, shapes, layout)."""
