"""Errors raised by the TTS model code."""

from provoice.errors import ProVoiceError


class CheckpointError(ProVoiceError, ValueError):
    """A checkpoint or voice file whose tensors do not fit the model (names, shapes, layout)."""


class EmptyText(ProVoiceError, ValueError):
    """Text with nothing a voice can speak (empty, whitespace, only symbols it cannot read)."""


class TrainingError(ProVoiceError):
    """Training cannot go on: no usable items, a checkpoint from another run, memory exhausted."""


class ExportError(ProVoiceError):
    """An exported model does not reproduce the torch generator it came from."""


class RegistryError(ProVoiceError, ValueError):
    """A base-model registration that cannot be done as asked (invalid id, id taken by other content)."""


class ModelMismatch(ProVoiceError, ValueError):
    """An input that does not fit the model it is given to (e.g. a speaker embedding of the wrong size)."""
