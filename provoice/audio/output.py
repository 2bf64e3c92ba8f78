"""The one audio output stage of every speech route: float audio at the model's rate in, the
container, encoding and sample rate the caller asked for out, a piece at a time.

Resampling is soxr (libsoxr, SoX's resampler): a streaming resampler that keeps its filter state
between calls, so sentences resampled one at a time join without clicks, at "HQ" quality and
far faster than a polyphase filter per piece. Compressed formats and G.711 are FFmpeg's encoders
through PyAV (libmp3lame, libopus, FFmpeg's AAC and FLAC, pcm_mulaw/pcm_alaw), the encoders every
player and browser is tested against; PyAV also cuts the audio into each codec's frame size.
WAV headers are written here (a fixed 44 bytes, so a streamed WAV's sizes can be filled in later,
which FFmpeg's muxer cannot do on a stream that does not seek).
"""

from __future__ import annotations

import io
import struct
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, cast

import numpy as np

from provoice.errors import InvalidSource

if TYPE_CHECKING:
    from av.audio.codeccontext import AudioCodecContext
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import OutputContainer

MIN_RATE, MAX_RATE = 8000, 48000
MIN_SPEED, MAX_SPEED = 0.25, 4.0


class Container(StrEnum):
    WAV = "wav"
    RAW = "raw"
    MP3 = "mp3"
    OPUS = "opus"  # Ogg/Opus
    AAC = "aac"  # ADTS
    FLAC = "flac"


class Encoding(StrEnum):
    """Sample encodings of `wav` and `raw`."""

    PCM_S16LE = "pcm_s16le"
    PCM_F32LE = "pcm_f32le"
    PCM_MULAW = "pcm_mulaw"
    PCM_ALAW = "pcm_alaw"


class BadAudioFormat(InvalidSource):
    """An output format, rate, bit rate or speed that cannot be produced."""


#: (WAV format tag, bytes per sample) of each encoding.
_WAV_TAGS = {
    Encoding.PCM_S16LE: (1, 2),
    Encoding.PCM_F32LE: (3, 4),
    Encoding.PCM_ALAW: (6, 1),
    Encoding.PCM_MULAW: (7, 1),
}
_G711 = {Encoding.PCM_MULAW: "pcm_mulaw", Encoding.PCM_ALAW: "pcm_alaw"}
#: FFmpeg (muxer, codec, bit rates allowed, sample rates allowed or None for any in range).
_CODECS: dict[Container, tuple[str, str, tuple[int, int] | None, frozenset[int] | None]] = {
    Container.MP3: (
        "mp3",
        "libmp3lame",
        (8000, 320000),
        frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}),
    ),
    Container.OPUS: ("ogg", "libopus", (6000, 256000), frozenset({8000, 12000, 16000, 24000, 48000})),
    Container.AAC: (
        "adts",
        "aac",
        (16000, 320000),
        frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}),
    ),
    Container.FLAC: ("flac", "flac", None, None),
}
_MEDIA_TYPES = {
    Container.WAV: "audio/wav",
    Container.RAW: "application/octet-stream",
    Container.MP3: "audio/mpeg",
    Container.OPUS: "audio/ogg",
    Container.AAC: "audio/aac",
    Container.FLAC: "audio/flac",
}
_DEFAULT_BIT_RATES = {Container.MP3: 128000, Container.OPUS: 64000, Container.AAC: 128000}


@dataclass(frozen=True)
class AudioFormat:
    """What a caller asked for; `sample_rate` None means the model's own rate."""

    container: Container = Container.WAV
    encoding: Encoding = Encoding.PCM_S16LE
    sample_rate: int | None = None
    bit_rate: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "container", _choice(Container, self.container, "container"))
        object.__setattr__(self, "encoding", _choice(Encoding, self.encoding, "encoding"))
        rate = self.sample_rate
        if rate is not None and not (MIN_RATE <= rate <= MAX_RATE):
            raise BadAudioFormat(f"sample rate {rate} Hz is out of range: use {MIN_RATE} to {MAX_RATE} Hz")
        codec = _CODECS.get(self.container)
        if codec is not None:
            _, _, bit_rates, rates = codec
            if rate is not None and rates is not None and rate not in rates:
                raise BadAudioFormat(
                    f"{self.container} cannot be encoded at {rate} Hz: use one of "
                    f"{', '.join(str(r) for r in sorted(rates))}"
                )
            if self.bit_rate is not None and (bit_rates is None or not bit_rates[0] <= self.bit_rate <= bit_rates[1]):
                allowed = f"{bit_rates[0]} to {bit_rates[1]} bit/s" if bit_rates else "no bit rate (it is lossless)"
                raise BadAudioFormat(f"{self.container} takes {allowed}, not {self.bit_rate}")
        elif self.bit_rate is not None:
            raise BadAudioFormat(f"{self.container} audio has no bit rate to choose")

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self.container]

    @property
    def extension(self) -> str:
        return {Container.RAW: "pcm", Container.OPUS: "ogg"}.get(self.container, self.container.value)

    def rate_for(self, source_rate: int) -> int:
        """The rate the audio will have: the asked one, or the source's where a codec allows it
        (else the nearest rate above it that the codec takes)."""
        if self.sample_rate is not None:
            return self.sample_rate
        rates = (_CODECS.get(self.container) or (None, None, None, None))[3]
        if rates is None or source_rate in rates:
            return min(max(source_rate, MIN_RATE), MAX_RATE)
        return min((r for r in rates if r >= source_rate), default=max(rates))

    def describe(self, source_rate: int) -> dict:
        """What the audio is, for headers and the first message of a stream."""
        shown = {"container": self.container.value, "sample_rate": self.rate_for(source_rate), "channels": 1}
        if self.container in (Container.WAV, Container.RAW):
            shown["encoding"] = self.encoding.value
        elif self.container is not Container.FLAC:
            shown["bit_rate"] = self.bit_rate or _DEFAULT_BIT_RATES[self.container]
        return shown

    def to_dict(self) -> dict:
        """For request hashes: two requests for different formats are different requests."""
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}


def _choice(enum: type[StrEnum], value, what: str):
    try:
        return enum(value)
    except ValueError:
        raise BadAudioFormat(f"unknown {what} {value!r}: use one of {', '.join(m.value for m in enum)}") from None


def length_scale_for(base_length_scale: float, speed: float) -> float:
    """The model's length scale for a speaking rate (`speed` 2 is twice as fast)."""
    if not (MIN_SPEED <= speed <= MAX_SPEED):
        raise BadAudioFormat(f"speed {speed} is out of range: use {MIN_SPEED} to {MAX_SPEED} (1 is the voice's own)")
    return base_length_scale / speed


def wav_header(encoding: Encoding, rate: int, data_bytes: int | None = None) -> bytes:
    """A 44-byte mono WAV header; `data_bytes` None writes the 'unknown' sizes a stream carries."""
    tag, width = _WAV_TAGS[encoding]
    size = 0xFFFFFFFF if data_bytes is None else data_bytes
    riff = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, tag, 1, rate, rate * width, width, width * 8)
        + b"data"
        + struct.pack("<I", size)
    )


def wav_with_sizes(streamed: bytes) -> bytes:
    """A WAV streamed with `wav_header(..., None)` with its real sizes written in."""
    size = len(streamed) - 44
    return streamed[:4] + struct.pack("<I", 36 + size) + streamed[8:40] + struct.pack("<I", size) + streamed[44:]


class _Sink(io.RawIOBase):
    """Where FFmpeg's muxer writes: bytes collected until the encoder hands them on."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out

    def finished(self) -> bytes:
        return self.take()


class _FileSink(io.BytesIO):
    """Where a whole file is muxed: seekable, so the muxer goes back to write what it learns at the
    end (FLAC's total length, MP3's gapless-playback header), and handed on only when finished."""

    def take(self) -> bytes:
        return b""

    def finished(self) -> bytes:
        return self.getvalue()


class AudioEncoder:
    """Encodes one response: `add` each piece of float audio as it is made and send what it
    returns; `finish` returns the rest. A `streamed` WAV gets a header with unknown sizes."""

    def __init__(self, fmt: AudioFormat, source_rate: int, *, streamed: bool = False):
        import soxr

        self.format, self.streamed = fmt, streamed
        self.rate = fmt.rate_for(source_rate)
        self._resampler = (
            soxr.ResampleStream(source_rate, self.rate, 1, dtype="float32", quality="HQ")
            if self.rate != source_rate
            else None
        )
        self._samples = 0
        self._started = False
        self._muxer: OutputContainer | None = None
        self._g711: AudioCodecContext | None = None
        if fmt.container in _CODECS:
            self._open_muxer()
        elif fmt.encoding in _G711:
            import av

            g711 = cast("AudioCodecContext", av.CodecContext.create(_G711[fmt.encoding], "w"))
            g711.sample_rate, g711.layout, g711.format = self.rate, "mono", "s16"
            self._g711 = g711
        self._data_bytes = 0

    def _open_muxer(self) -> None:
        import av

        muxer, codec, _, _ = _CODECS[self.format.container]
        self._sink: _Sink | _FileSink = _Sink() if self.streamed else _FileSink()
        options = {"flush_packets": "1", "fflags": "+bitexact"}
        if self.format.container is Container.OPUS:
            options["page_duration"] = "20000"  # a page per 20 ms packet: audio leaves as it is encoded
        self._muxer = muxer_ = av.open(self._sink, mode="w", format=muxer, container_options=options)
        stream = cast("AudioStream", muxer_.add_stream(codec, rate=self.rate, layout="mono"))
        if self.format.container in _DEFAULT_BIT_RATES:
            stream.bit_rate = self.format.bit_rate or _DEFAULT_BIT_RATES[self.format.container]
        self._stream = stream

    def add(self, audio: np.ndarray) -> bytes:
        audio = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
        if self._resampler is not None:
            audio = self._resampler.resample_chunk(audio, last=False)
        return self._encode(audio)

    def finish(self) -> bytes:
        tail = b""
        if self._resampler is not None:
            tail = self._encode(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        if self._muxer is not None:
            for packet in self._stream.encode(None):
                self._muxer.mux(packet)
            self._muxer.close()
            return tail + self._sink.finished()
        if self._g711 is not None:
            tail += b"".join(bytes(p) for p in self._g711.encode(None))
        if self.streamed and not self._started:  # no audio at all: still a well-formed (empty) stream
            tail = self._header() + tail
            self._started = True
        return tail

    @property
    def duration_s(self) -> float:
        """Seconds of audio added so far, at the output rate."""
        return self._samples / self.rate

    def _header(self) -> bytes:
        if self.format.container is not Container.WAV:
            return b""
        return wav_header(self.format.encoding, self.rate, None if self.streamed else self._data_bytes)

    def _encode(self, audio: np.ndarray) -> bytes:
        self._samples += audio.size
        if self._muxer is not None:
            return self._mux(audio)
        payload = self._pcm(audio)
        self._data_bytes += len(payload)
        if not self._started and self.streamed:
            self._started = True
            return self._header() + payload
        return payload

    def _pcm(self, audio: np.ndarray) -> bytes:
        encoding = self.format.encoding
        if encoding is Encoding.PCM_F32LE:
            return audio.astype("<f4").tobytes()
        s16 = (audio * 32767.0).astype("<i2")
        if encoding is Encoding.PCM_S16LE:
            return s16.tobytes()
        if audio.size == 0 or self._g711 is None:
            return b""
        return b"".join(bytes(p) for p in self._g711.encode(self._frame(s16)))

    def _frame(self, s16: np.ndarray) -> AudioFrame:
        import av

        frame = av.AudioFrame.from_ndarray(s16.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        return frame

    def _mux(self, audio: np.ndarray) -> bytes:
        if audio.size and self._muxer is not None:
            frame = self._frame((audio * 32767.0).astype("<i2"))
            for packet in self._stream.encode(frame):
                self._muxer.mux(packet)
        return self._sink.take()


def encode_whole(audio: np.ndarray, source_rate: int, fmt: AudioFormat) -> bytes:
    """All of `audio` in `fmt`, with a WAV's real sizes in its header."""
    encoder = AudioEncoder(fmt, source_rate)
    body = encoder.add(audio) + encoder.finish()
    if fmt.container is Container.WAV:
        return wav_header(fmt.encoding, encoder.rate, len(body)) + body
    return body
