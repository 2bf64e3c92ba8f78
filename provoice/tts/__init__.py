"""Piper-compatible VITS text-to-speech in plain torch, by job:

- `model/`: the network (parameter names follow Piper's layout, so Piper checkpoints load without
  renaming; ProVoice's voice conditioning lives in a separate `voice` sub-module);
- `text/`: the front-end from text to phoneme ids;
- `train/`: the resumable fine-tuning loop;
- `formats/`: Piper checkpoints, voice JSON and ONNX in and out;
- `synthesis`: text to audio with a loaded generator (`synthesize`, `synthesize_sentences`, `synthesize_timed`).

It imports nothing of the catalog, storage or settings (import-linter checks it): the parts that
know about those live in `provoice.voice_models`. Below is the surface the rest of the code uses.
"""

from typing import TYPE_CHECKING

from provoice.lazy import surface

if TYPE_CHECKING:
    from provoice.tts.errors import CheckpointError, EmptyText, ExportError, ModelMismatch, RegistryError, TrainingError
    from provoice.tts.model import AudioFeatures, SynthesizerTrn, VitsConfig, build_discriminator, for_inference
    from provoice.tts.synthesis import synthesize, synthesize_sentences, synthesize_timed
    from provoice.tts.text import PhonemeMap, TextFrontEnd
    from provoice.tts.train import TrainConfig, TrainingItem, TrainResult

__getattr__, __dir__, __all__ = surface(
    __name__,
    {
        "errors": ("CheckpointError", "EmptyText", "ExportError", "ModelMismatch", "RegistryError", "TrainingError"),
        "model": ("AudioFeatures", "SynthesizerTrn", "VitsConfig", "build_discriminator", "for_inference"),
        "synthesis": ("synthesize", "synthesize_sentences", "synthesize_timed"),
        "text": ("PhonemeMap", "TextFrontEnd"),
        "train": ("TrainConfig", "TrainingItem", "TrainResult"),
    },
)
