"""`provoice tts`: speak text with a base model, a fine-tuned model or one of your voices."""

from pathlib import Path
from typing import Optional

import typer

from interfaces.cli.context import local_account, open_catalog
from interfaces.cli.output import json_output, out, say
from provoice.settings import Settings
from provoice.views import TtsResult


STDOUT = "-"


def render(result: TtsResult) -> None:
    to_stdout = result.output == STDOUT  # then stdout carries the audio, and the line goes to stderr
    line = (f"wrote {'the audio to stdout' if to_stdout else result.output} ({result.duration_s} s at "
            f"{result.sample_rate} Hz) with {result.model_id}")
    if to_stdout:
        say(line)
    else:
        out.print(line)


def tts(
    text: str = typer.Option(..., "--text", help="what to say"),
    output: Path = typer.Option(..., "-o", "--output",
                                help="WAV file to write; `-` streams it to stdout sentence by sentence"),
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
    from provoice.voice_models import load_synthesizer

    to_stdout = str(output) == STDOUT
    if to_stdout and json_output():
        raise InvalidSource("--json prints to stdout, which `-o -` fills with the audio: use one of them")
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
        synth = load_synthesizer(settings, model_id)
        embedding = _voice(synth, embedding, reference)
        if to_stdout:
            samples = _stream(synth, text, embedding, seed)
        else:
            audio, rate = synth.synthesize(text, embedding, seed=seed)
            samples = len(audio)
    except BaseException:
        if metered is not None:
            metered.release()
        raise
    if metered is not None:
        metered.charge()
    rate = synth.meta.sample_rate
    if not to_stdout:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_wav(output, audio, rate)
    return TtsResult(model_id=synth.meta.id, output=str(output), sample_rate=rate,
                     duration_s=round(samples / rate, 3), conditioned=embedding is not None)


def _voice(synth, embedding, reference: Optional[Path]):
    if reference is None:
        return embedding
    if not synth.conditioned:
        say(f"warning: {synth.meta.id} has no voice conditioning; --reference is ignored and it speaks in its own voice")
        return embedding
    from provoice.voice_models import reference_embedding

    return reference_embedding(reference)


def _stream(synth, text: str, embedding, seed: Optional[int]) -> int:
    """A WAV with a streaming header on stdout, each sentence written as soon as it is made."""
    import sys

    from provoice.audio.wavio import pcm16, streaming_wav_header

    sink = sys.stdout.buffer
    sink.write(streaming_wav_header(synth.meta.sample_rate))
    sink.flush()
    samples = 0
    for _, audio in synth.sentences(text, embedding, seed=seed):
        sink.write(pcm16(audio))
        sink.flush()
        samples += len(audio)
    return samples
