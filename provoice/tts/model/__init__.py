"""The VITS network (Piper's `model_g` / `model_d` layout): encoders, duration predictors, coupling
flow, HiFi-GAN generator and discriminators, voice conditioning, spectrograms, losses and the
monotonic alignment search."""

from typing import TYPE_CHECKING

from provoice.lazy import surface

if TYPE_CHECKING:
    from provoice.tts.model.config import VitsConfig
    from provoice.tts.model.mel import AudioFeatures
    from provoice.tts.model.synthesizer import (
        EXTRA_PREFIXES,
        SynthesizerTrn,
        VitsOutput,
        build_discriminator,
        for_inference,
    )

__getattr__, __dir__, __all__ = surface(
    __name__,
    {
        "config": ("VitsConfig",),
        "mel": ("AudioFeatures",),
        "synthesizer": ("EXTRA_PREFIXES", "SynthesizerTrn", "VitsOutput", "build_discriminator", "for_inference"),
    },
)
