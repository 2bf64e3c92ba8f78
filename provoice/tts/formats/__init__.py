"""Files a voice model comes in and goes out as: Piper training checkpoints, Piper voice JSON,
Piper ONNX voices (import and export) and the base-model metadata stored beside the weights."""

from typing import TYPE_CHECKING

from provoice.lazy import surface

if TYPE_CHECKING:
    from provoice.tts.formats.base_meta import BaseModelMeta, DiscriminatorState, NewBaseModel
    from provoice.tts.formats.onnx_export import export_onnx_file, verify_onnx
    from provoice.tts.formats.onnx_import import VOICE_FILE, default_voice_path, import_onnx_voice
    from provoice.tts.formats.piper_ckpt import (
        DISCRIMINATOR_PREFIX,
        load_piper_checkpoint,
        read_checkpoint,
        save_piper_checkpoint,
    )
    from provoice.tts.formats.piper_voice import InferenceScales, piper_voice_config

__getattr__, __dir__, __all__ = surface(
    __name__,
    {
        "base_meta": ("BaseModelMeta", "DiscriminatorState", "NewBaseModel"),
        "onnx_export": ("export_onnx_file", "verify_onnx"),
        "onnx_import": ("VOICE_FILE", "default_voice_path", "import_onnx_voice"),
        "piper_ckpt": ("DISCRIMINATOR_PREFIX", "load_piper_checkpoint", "read_checkpoint", "save_piper_checkpoint"),
        "piper_voice": ("InferenceScales", "piper_voice_config"),
    },
)
