"""Files a voice model comes in and goes out as: Piper training checkpoints, Piper voice JSON,
Piper ONNX voices (import and export) and the base-model metadata stored beside the weights."""

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

__all__ = ["DISCRIMINATOR_PREFIX", "VOICE_FILE", "BaseModelMeta", "DiscriminatorState", "InferenceScales",
           "NewBaseModel", "default_voice_path", "export_onnx_file", "import_onnx_voice", "load_piper_checkpoint",
           "piper_voice_config", "read_checkpoint", "save_piper_checkpoint", "verify_onnx"]
