"""Streaming speech: a WAV header with unknown sizes, then each sentence's 16-bit PCM as soon as it
is made, so the first audio plays while the rest is still being synthesised.

Metering matches the whole-response route: the text's cost was held before; when the stream ends
the sentences sent are charged (their share of the text's characters) and the rest is released.
A client that disconnects stops the synthesis after the sentence in progress.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import anyio
import numpy as np
from fastapi import WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from provoice.audio.wavio import pcm16, streaming_wav_header, with_sizes
from provoice.pvc.tts import Meter
from provoice.voice_models import Synthesizer

def audio_headers(rate: int) -> dict[str, str]:
    return {"X-Audio-Format": "pcm_s16le", "X-Sample-Rate": str(rate), "X-Channels": "1",
            "Cache-Control": "no-store"}


class SpeechStream:
    """The sentences of one request, synthesised one at a time off the event loop, and what they
    cost: `charge` settles the held credits for the share of the text sent."""

    def __init__(self, synth: Synthesizer, text: str, embedding: np.ndarray, metered: Meter):
        self.metered = metered
        units = synth.meta.front_end().sentence_units(text)
        self.total_chars = sum(len(sentence) for sentence, _ in units)
        self.sent_chars = 0
        self.finished = False
        self._pieces: Iterator[tuple[str, np.ndarray]] = synth.sentences(text, embedding)

    async def chunks(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            piece = await run_in_threadpool(next, self._pieces, None)
            if piece is None:
                self.finished = True
                return
            yield piece[0], pcm16(piece[1])

    def sent(self, sentence: str) -> None:
        self.sent_chars += len(sentence)

    def settle(self) -> None:
        """Charge the sentences sent (all of the hold when the stream finished) and stop synthesising."""
        with contextlib.suppress(ValueError):  # still running in a worker thread: it is dropped after
            self._pieces.close()
        if self.metered.charged is None:  # a finished stream sent every sentence: the whole cost
            self.metered.charge(part=(self.sent_chars, self.total_chars))


class _ClosingStreamingResponse(StreamingResponse):
    """Closes its body when the client goes away, so the stream's `finally` runs now, not at GC."""

    async def stream_response(self, send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]


def stream_speech(synth: Synthesizer, text: str, embedding: np.ndarray, metered: Meter, recorder) -> StreamingResponse:
    """`POST /tts` with `stream: true`. Sentence splitting (and an empty text's 422) happen before
    the response starts; a finished stream is kept under its Idempotency-Key like a whole one."""
    stream = SpeechStream(synth, text, embedding, metered)
    rate = synth.meta.sample_rate

    async def body() -> AsyncIterator[bytes]:
        header = streaming_wav_header(rate)
        whole = [header] if recorder.keeps else None  # only a request with an Idempotency-Key is stored
        try:
            yield header
            async for sentence, data in stream.chunks():
                if whole is not None:
                    whole.append(data)
                yield data
                stream.sent(sentence)
        finally:
            stream.settle()
            if stream.finished and whole is not None:
                recorder.complete(with_sizes(b"".join(whole)))
            else:
                recorder.abandon()

    return _ClosingStreamingResponse(body(), media_type="audio/wav", headers=audio_headers(rate))


async def speak_over_websocket(websocket: WebSocket, synth: Synthesizer, text: str, embedding: np.ndarray,
                               metered: Meter) -> None:
    """The WebSocket form: a JSON message with the audio format, a binary message of 16-bit PCM per
    sentence, then a JSON message with what was charged."""
    try:
        stream = SpeechStream(synth, text, embedding, metered)
    except BaseException:  # nothing to say (an empty text): nothing is charged
        metered.release()
        raise
    try:
        await websocket.send_json({"format": "pcm_s16le", "sample_rate": synth.meta.sample_rate, "channels": 1})
        async for sentence, data in stream.chunks():
            await websocket.send_bytes(data)
            stream.sent(sentence)
            await websocket.send_json({"sentence": sentence})
    finally:
        stream.settle()
    await websocket.send_json({"done": True, "charged_credits": float(metered.charged or 0)})
