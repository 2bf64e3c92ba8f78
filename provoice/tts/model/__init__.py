"""The VITS network (Piper's `model_g` / `model_d` layout): encoders, duration predictors, coupling
flow, HiFi-GAN generator and discriminators, voice conditioning, spectrograms, losses and the
monotonic alignment search."""

from provoice.tts.model.config import VitsConfig
from provoice.tts.model.mel import AudioFeatures
from provoice.tts.model.synthesizer import (
           EXTRA_PREFIXES,
           SynthesizerTrn,
           VitsOutput,
           build_discriminator,
           for_inference,
)

__all__ = ["EXTRA_PREFIXES", "AudioFeatures", "SynthesizerTrn", "VitsConfig", "VitsOutput", "build_discriminator",
           "for_inference"]
