"""`provoice tts`: speak text with a base model, a fine-tuned model or one of your voices."""

from pathlib import Path

import typer

from interfaces.cli.context import command_settings, local_account, open_catalog
from interfaces.cli.output import json_output, out, say
from provoice.views import TtsResult

STDOUT = "-"


def render(result: TtsResult) -> None:
    to_stdout = result.output == STDOUT  # then stdout carries the audio, and the line goes to stderr
    kind = f"{result.format} {result.encoding}" if result.encoding else result.format
    line = (
        f"wrote {'the audio to stdout' if to_stdout else result.output} ({result.duration_s} s of {kind} at "
        f"{result.sample_rate} Hz) with {result.model_id}"
    )
    if to_stdout:
        say(line)
    else:
        out.print(line)


def tts(
    text: str = typer.Option(..., "--text", help="what to say"),
    output: Path = typer.Option(
        ..., "-o", "--output", help="audio file to write; `-` streams it to stdout sentence by sentence"
    ),
    model_id: str = typer.Option(
        "latest", "--model-id", help="a base model id (default: the latest) or a fine-tuned <base>/<run> id"
    ),
    reference: Path | None = typer.Option(None, "--reference", help="clip whose voice conditions the model"),
    voice_id: str | None = typer.Option(None, "--voice-id"),
    seed: int | None = typer.Option(None, "--seed"),
    container: str | None = typer.Option(
        None, "--format", help="wav, raw, mp3, opus, aac or flac (default: from the output file's extension, else wav)"
    ),
    encoding: str = typer.Option(
        "pcm_s16le", "--encoding", help="samples of wav and raw: pcm_s16le, pcm_f32le, pcm_mulaw or pcm_alaw"
    ),
    sample_rate: int | None = typer.Option(None, "--sample-rate", help="8000 to 48000 Hz (default: the model's)"),
    bit_rate: int | None = typer.Option(None, "--bit-rate", help="bit/s, for mp3, opus and aac"),
    speed: float = typer.Option(1.0, "--speed", help="speaking rate, 0.25 to 4 (2 is twice as fast)"),
) -> TtsResult:
    """Speak TEXT with a model and write it in any common audio format (a WAV at the model's rate by default)."""
    import numpy as np

    from provoice.audio.output import AudioFormat, encode_whole
    from provoice.errors import InvalidSource
    from provoice.voice_models import load_synthesizer

    to_stdout = str(output) == STDOUT
    if to_stdout and json_output():
        raise InvalidSource("--json prints to stdout, which `-o -` fills with the audio: use one of them")
    if reference is not None and not reference.is_file():
        raise InvalidSource(f"reference clip {reference} does not exist")
    fmt = AudioFormat(container or _container_of(output), encoding, sample_rate, bit_rate)
    settings = command_settings()
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
            seconds = _stream(synth, text, embedding, seed, fmt, speed)
        else:
            audio, rate = synth.synthesize(text, embedding, seed=seed, speed=speed)
            seconds = len(audio) / rate
    except BaseException:
        if metered is not None:
            metered.release()
        raise
    if metered is not None:
        metered.charge()
    if not to_stdout:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(encode_whole(audio, rate, fmt))
    shown = fmt.describe(synth.meta.sample_rate)
    return TtsResult(
        model_id=synth.meta.id,
        output=str(output),
        sample_rate=shown["sample_rate"],
        format=shown["container"],
        encoding=shown.get("encoding"),
        duration_s=round(seconds, 3),
        conditioned=embedding is not None,
    )


def _container_of(output: Path) -> str:
    from provoice.audio.output import Container

    suffix = output.suffix.lower().lstrip(".")
    known = {"ogg": "opus", "pcm": "raw", "m4a": "aac"}.get(suffix, suffix)
    return known if known in {c.value for c in Container} else Container.WAV.value


def _voice(synth, embedding, reference: Path | None):
    if reference is None:
        return embedding
    if not synth.conditioned:
        say(
            f"warning: {synth.meta.id} has no voice conditioning; --reference is ignored and it speaks in its own voice"
        )
        return embedding
    from provoice.voice_models import reference_embedding

    return reference_embedding(reference)


def _stream(synth, text: str, embedding, seed: int | None, fmt, speed: float) -> float:
    """The audio on stdout (a WAV with a streaming header by default), each sentence written as
    soon as it is made; its length in seconds."""
    import sys

    from provoice.audio.output import AudioEncoder

    sink = sys.stdout.buffer
    encoder = AudioEncoder(fmt, synth.meta.sample_rate, streamed=True)
    for _, audio in synth.sentences(text, embedding, seed=seed, speed=speed):
        sink.write(encoder.add(audio))
        sink.flush()
    sink.write(encoder.finish())
    sink.flush()
    return encoder.duration_s
