"""Piper-compatible VITS text-to-speech model in torch: modules, losses, checkpoint and ONNX import.

Parameter names follow Piper's VITS layout so Piper checkpoints load without renaming; ProVoice's
voice conditioning lives in a separate `voice` sub-module outside that key set.
"""

from provoice.tts.config import VitsConfig
from provoice.tts.errors import CheckpointError

__all__ = ["CheckpointError", "VitsConfig"]
