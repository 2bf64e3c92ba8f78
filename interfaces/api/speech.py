"""Speech for every route, native and compatible: one text, one voice, one output format; the
credits held before synthesis and charged for what reached the client.

The money rules live here once, so `POST /tts`, its WebSocket and the OpenAI, Cartesia and
ElevenLabs routes cannot drift apart:
- the text's cost is held before any synthesis (402 with the figures when it is not covered);
- a response is charged only once its bytes were handed to the client: a whole response after its
  last byte, a stream for the sentences it sent. A client that gives up (its read timeout, a
  dropped connection) is charged only for what it got, so the automatic retries of the official
  clients (408, 409, 429, 5xx and timeouts, without an idempotency key) never pay twice;
- any failure before the audio leaves releases the hold.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import anyio
import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from provoice import idempotency
from provoice.audio.output import AudioEncoder, AudioFormat, Container, encode_whole, wav_with_sizes
from provoice.catalog import Catalog, Voice
from provoice.pvc.tts import Meter, meter, settle_hold
from provoice.settings import Settings
from provoice.tts.timestamps import WordTime
from provoice.voice_models import Synthesizer, load_synthesizer


@dataclass
class Chunk:
    """A piece of encoded audio as it leaves: the sentence it carries (empty for the encoder's
    tail), that sentence's words timed from the start of the whole audio, and where it starts."""

    sentence: str
    data: bytes
    words: list[WordTime] = field(default_factory=list)
    start_s: float = 0.0


class Speech:
    """One request's audio. Creating it holds the text's cost and checks there is something to say
    (an empty text is refused before a response starts); `chunks` synthesises a sentence at a time
    off the event loop; `settle` charges what was sent and releases the rest."""

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        voice: Voice,
        text: str,
        fmt: AudioFormat,
        *,
        speed: float = 1.0,
        streamed: bool = False,
        timed: bool = False,
        request_id: str | None = None,
        offset_s: float = 0.0,
    ):
        self.format, self.voice = fmt, voice
        self.metered: Meter = meter(catalog, voice, text, request_id)
        try:
            self.synth: Synthesizer = load_synthesizer(settings, voice.model_id)
            self.synth.length_scale(speed)  # a speed out of range is refused before anything is made
            units = self.synth.meta.front_end().sentence_units(text)
        except BaseException:
            settle_hold(self.metered.release, self.metered.hold_key)
            raise
        self.text, self.speed, self.timed, self.streamed = text, speed, timed, streamed
        self._encoder: AudioEncoder | None = None
        self.embedding = np.asarray(voice.embedding, dtype=np.float32)
        self.total_chars = sum(len(sentence) for sentence, _ in units)
        self.sent_chars = 0
        self.finished = False
        self.audio_s = offset_s  # where the next sentence starts, for timestamps
        self._pieces: Iterator | None = None

    @property
    def rate(self) -> int:
        return self.format.rate_for(self.synth.meta.sample_rate)

    @property
    def encoder(self) -> AudioEncoder:
        """The stream's encoder, opened with the first sentence (a whole response encodes at once)."""
        if self._encoder is None:
            self._encoder = AudioEncoder(self.format, self.synth.meta.sample_rate, streamed=self.streamed)
        return self._encoder

    def describe(self) -> dict:
        return self.format.describe(self.synth.meta.sample_rate)

    def render_whole(self) -> bytes:
        """All of the audio at once (run it off the event loop; `whole_response` does)."""
        audio, rate = self.synth.synthesize(self.text, self.embedding, speed=self.speed)
        return encode_whole(audio, rate, self.format)

    def _spoken(self) -> Iterator[tuple[str, np.ndarray, list[WordTime]]]:
        if self.timed:
            for piece in self.synth.timed_sentences(self.text, self.embedding, speed=self.speed):
                yield piece.text, piece.audio, piece.words
        else:
            for sentence, audio in self.synth.sentences(self.text, self.embedding, speed=self.speed):
                yield sentence, audio, []

    def _next(self) -> Chunk | None:
        if self._pieces is None:
            self._pieces = self._spoken()
        piece = next(self._pieces, None)
        if piece is None:
            return None
        sentence, audio, words = piece
        start = self.audio_s
        self.audio_s += audio.size / self.synth.meta.sample_rate
        shifted = [WordTime(w.word, round(w.start + start, 3), round(w.end + start, 3)) for w in words]
        return Chunk(sentence, self.encoder.add(audio), shifted, start)

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Each sentence encoded as soon as it is made, then the encoder's tail (empty sentence)."""
        while True:
            chunk = await run_in_threadpool(self._next)
            if chunk is None:
                break
            yield chunk
        yield Chunk("", await run_in_threadpool(self.encoder.finish), [], self.audio_s)
        self.finished = True

    def sent(self, chunk: Chunk) -> None:
        self.sent_chars += len(chunk.sentence)

    def settle(self) -> None:
        """Charge the sentences sent (the whole cost when the stream finished) and stop synthesising."""
        if self._pieces is not None:
            with contextlib.suppress(ValueError):  # still running in a worker thread: it is dropped after
                self._pieces.close()
        if self.metered.charged is None:
            part = None if self.finished else (self.sent_chars, self.total_chars)
            settle_hold(lambda: self.metered.charge(part=part), self.metered.hold_key)

    def release(self) -> None:
        """Nothing was delivered: the hold goes back whole."""
        if self.metered.charged is None:
            settle_hold(self.metered.release, self.metered.hold_key)
            self.metered.charged = Decimal(0)


class Recorder:
    """Keeps a finished response under its Idempotency-Key (if the request had one), or gives the
    key up when the response was not finished, so a repeat is answered from storage or redone."""

    def __init__(self, catalog: Catalog, storage, account: str, idempotency_key: str | None):
        self.catalog, self.storage, self.account, self.key = catalog, storage, account, idempotency_key

    @property
    def keeps(self) -> bool:
        """Whether a finished response is stored (the request came with a key)."""
        return self.key is not None

    def complete(self, data: bytes, fmt: AudioFormat) -> None:
        if not self.keeps:
            return
        digest = hashlib.sha256(idempotency.record_key(self.account, self.key).encode()).hexdigest()
        key = f"requests/{digest}.{fmt.extension}"
        self.storage.write_bytes(key, data)
        idempotency.complete(self.catalog, self.account, self.key, key, fmt.media_type)

    def abandon(self) -> None:
        if self.key is not None:
            idempotency.abandon(self.catalog, self.account, self.key)


class ClosingStreamingResponse(StreamingResponse):
    """Closes its body when the client goes away, so the body's `finally` (the charge) runs now."""

    async def stream_response(self, send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]


def audio_headers(speech: Speech) -> dict[str, str]:
    shown = speech.describe()
    headers = {
        "X-Audio-Format": shown.get("encoding", shown["container"]),
        "X-Sample-Rate": str(shown["sample_rate"]),
        "X-Channels": "1",
        "Cache-Control": "no-store",
    }
    return headers


def whole_response(
    speech: Speech, recorder: Recorder | None = None, media_type: str | None = None
) -> StreamingResponse:
    """All of the audio made first (in the caller's thread: a sync route's), then sent as one file,
    charged once its last byte was handed to the client (a client gone before then is charged
    nothing and may retry). A failure while it is made releases the hold."""
    try:
        data = speech.render_whole()
    except BaseException:
        speech.release()
        raise

    async def body() -> AsyncIterator[bytes]:
        delivered = False
        try:
            yield data
            delivered = True
        finally:
            if delivered:
                speech.finished = True
                speech.settle()
                if recorder is not None:
                    recorder.complete(data, speech.format)
            else:
                speech.release()
                if recorder is not None:
                    recorder.abandon()

    headers = {**audio_headers(speech), "Content-Length": str(len(data))}
    return ClosingStreamingResponse(body(), media_type=media_type or speech.format.media_type, headers=headers)


def streamed_response(
    speech: Speech, recorder: Recorder | None = None, media_type: str | None = None
) -> StreamingResponse:
    """The audio as it is made, a sentence at a time; charged for the sentences sent. A finished
    stream is kept under its Idempotency-Key like a whole response (a WAV with its sizes filled in)."""

    async def body() -> AsyncIterator[bytes]:
        whole: list[bytes] | None = [] if recorder is not None and recorder.keeps else None
        try:
            async for chunk in speech.chunks():
                if whole is not None:
                    whole.append(chunk.data)
                if chunk.data:
                    yield chunk.data
                speech.sent(chunk)
        finally:
            speech.settle()
            if recorder is not None:
                if speech.finished and whole is not None:
                    data = b"".join(whole)
                    recorder.complete(
                        wav_with_sizes(data) if speech.format.container is Container.WAV else data, speech.format
                    )
                else:
                    recorder.abandon()

    return ClosingStreamingResponse(
        body(), media_type=media_type or speech.format.media_type, headers=audio_headers(speech)
    )


def event_stream(speech: Speech, events, closing) -> StreamingResponse:
    """Server-sent events: `events(chunk)` gives the `data:` payloads of each chunk, `closing()`
    those after the last; charged for the sentences sent, like a byte stream."""

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in speech.chunks():
                for payload in events(chunk):
                    yield f"data: {json.dumps(payload)}\n\n".encode()
                speech.sent(chunk)
        finally:
            speech.settle()
        for payload in closing():
            yield f"data: {json.dumps(payload)}\n\n".encode()

    return ClosingStreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


async def open_speech(
    catalog: Catalog, settings: Settings, voice: Voice, text: str, fmt: AudioFormat, **options
) -> Speech:
    """`Speech(...)` off the event loop (it reads the catalog and may load the model)."""
    return await run_in_threadpool(lambda: Speech(catalog, settings, voice, text, fmt, **options))
