"""ElevenLabs' `output_format` names (`codec_samplerate[_kbps]`) as ProVoice's audio formats."""

from __future__ import annotations

from provoice.audio.output import AudioFormat, BadAudioFormat, Container, Encoding

#: ElevenLabs codec name -> (container, sample encoding, whether a bit rate may follow the rate).
CODECS: dict[str, tuple[Container, Encoding, bool]] = {
    "mp3": (Container.MP3, Encoding.PCM_S16LE, True),
    "opus": (Container.OPUS, Encoding.PCM_S16LE, True),
    "pcm": (Container.RAW, Encoding.PCM_S16LE, False),
    "wav": (Container.WAV, Encoding.PCM_S16LE, False),
    "ulaw": (Container.RAW, Encoding.PCM_MULAW, False),
    "alaw": (Container.RAW, Encoding.PCM_ALAW, False),
}
FORMAT_HELP = (
    "use codec_samplerate[_kbps]: mp3_44100_128, mp3_22050_32, opus_48000_64, pcm_16000, pcm_24000, "
    "wav_44100, ulaw_8000 or alaw_8000"
)


def audio_format(output_format: str) -> AudioFormat:
    """ElevenLabs' `codec_samplerate[_kbps]` as ProVoice's output format; BadAudioFormat (422) for a
    name it does not parse or a rate or bit rate the codec cannot make."""
    codec, _, numbers = output_format.partition("_")
    parts = numbers.split("_")
    if codec not in CODECS or not all(p.isdigit() for p in parts) or len(parts) > (2 if CODECS[codec][2] else 1):
        raise BadAudioFormat(f"unknown output_format {output_format!r}: {FORMAT_HELP}")
    container, encoding, _ = CODECS[codec]
    bit_rate = int(parts[1]) * 1000 if len(parts) == 2 else None
    return AudioFormat(container, encoding, int(parts[0]), bit_rate)
