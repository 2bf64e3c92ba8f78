"""`provoice tts`: speak text with a base model, a fine-tuned model or one of your voices."""

from pathlib import Path
from typing import Optional

import typer

from interfaces.cli.context import local_account, open_catalog
from interfaces.cli.output import out, say
from provoice.settings import Settings
from provoice.views import TtsResult


def render(result: TtsResult) -> None:
    out.print(f"wrote {result.output} ({result.duration_s} s at {result.sample_rate} Hz) with {result.model_id}")


def tts(
    text: str = typer.Option(..., "--text", help="what to say"),
    output: Path = typer.Option(..., "-o", "--output", help="WAV file to write"),
    model_id: str = typer.Option("latest", "--model-id",
                                 help="a base model id (default: the latest) or a fine-tuned <base>/<run> id"),
    reference: Optional[Path] = typer.Option(None, "--reference", help="clip whose voice conditions the model"),
    voice_id: Optional[str] = typer.Option(None, "--voice-id"),
    seed: Optional[int] = typer.Option(None, "--seed"),
) -> TtsResult:
    """Speak TEXT with a model and write a WAV at the model's sample rate."""
    import numpy as np

    from provoice.audio.wavio import write_wav
    from provoice.errors import InvalidSource
    from provoice.voice_models import load_for_inference

    if reference is not None and not reference.is_file():
        raise InvalidSource(f"reference clip {reference} does not exist")
    settings = Settings()
    embedding = None
    voice = None
    if voice_id is not None:
        from provoice.pvc.tts import voice_for_model

        catalog = open_catalog(settings)
        voice = voice_for_model(catalog, local_account(catalog), voice_id, model_id)
        embedding = np.asarray(voice.embedding, dtype=np.float32)
    metered = None
    if voice is not None:
        from provoice.pvc.tts import meter

        metered = meter(catalog, voice, text)
    try:
        generator, meta = load_for_inference(settings, model_id, settings.resolved_device())
        audio, rate, embedding = _speak(generator, meta, text, embedding, reference, seed)
    except BaseException:
        if metered is not None:
            metered.release()
        raise
    if metered is not None:
        metered.charge()
    output.parent.mkdir(parents=True, exist_ok=True)
    write_wav(output, audio, rate)
    return TtsResult(model_id=meta.id, output=str(output), sample_rate=rate, duration_s=round(len(audio) / rate, 3),
                     conditioned=embedding is not None)


def _speak(generator, meta, text: str, embedding, reference: Optional[Path], seed: Optional[int]):
    from provoice.tts import synthesize

    if reference is not None:
        if generator.config.conditioned:
            from provoice.voice_models import reference_embedding

            embedding = reference_embedding(reference)
        else:
            say(f"warning: {meta.id} has no voice conditioning; --reference is ignored and it speaks in its own voice")
    audio, rate = synthesize(generator, meta, text, embedding, seed=seed)
    return audio, rate, embedding
