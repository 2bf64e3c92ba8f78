"""Cartesia's speech WebSocket: several contexts at once, each speaking its text as whole sentences
arrive, flushed or ended by the client, and charged for what it sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnected

from interfaces.api.compat.cartesia.events import done_event, error_event, speech_events
from interfaces.api.compat.cartesia.shapes import cartesia_error
from interfaces.api.compat.cartesia.speech_requests import SocketRequest
from interfaces.api.compat.cartesia.voices import spoken_voice
from interfaces.api.deps import websocket_account
from interfaces.api.errors import status_for
from interfaces.api.speech import open_speech
from interfaces.api.tts import MAX_TTS_CHARS
from provoice.catalog import Catalog, Voice
from provoice.errors import InvalidSource, ProVoiceError
from provoice.settings import Settings

router = APIRouter()

#: Contexts one WebSocket may have open at once.
MAX_CONTEXTS = 32

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_INITIAL = re.compile(r"(?:^|\s)[A-Z]\.$")


def complete_sentences(text: str) -> tuple[str, str]:
    """(the complete sentences at the start of `text`, the rest): a sentence is complete once
    whitespace follows its end punctuation ("J. Smith" is an initial), so a continuation never
    cuts a word, a number or an abbreviation's sentence in two."""
    cut = 0
    for match in _SENTENCE_END.finditer(text):
        if not _INITIAL.search(text[: match.start()]):
            cut = match.end()
    return text[:cut], text[cut:]


@dataclass(frozen=True)
class _Speak:
    text: str
    flush_id: int


@dataclass(frozen=True)
class _FlushDone:
    flush_id: int


@dataclass(frozen=True)
class _End:
    pass


class SocketContext:
    """One `context_id` of a WebSocket: its transcript buffered until a sentence is complete (or
    flushed, or the input ends), spoken in order by its own task, its word times continuing from
    the audio it already sent."""

    def __init__(self, session: SocketSession, first: SocketRequest):
        self.session, self.id, self.first = session, first.context_id, first
        self.buffer = ""
        self.input_ended = False
        self.flushes = 0
        self.audio_s = 0.0
        self.voice: Voice | None = None
        self.jobs: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(self._work())

    def take(self, message: SocketRequest) -> None:
        """Buffer the message's text and queue what it makes ready: complete sentences while more
        will follow; everything on a flush (then `flush_done`) or at the end (then `done`)."""
        if self.input_ended:
            after_end(message)
            return
        if len(self.buffer) + len(message.transcript) > MAX_TTS_CHARS:
            raise InvalidSource(
                f"context {self.id} holds more than {MAX_TTS_CHARS} characters without a sentence "
                "end: end sentences with punctuation and a space, or flush"
            )
        self.buffer += message.transcript
        if message.flush or message.ends:
            text, self.buffer = self.buffer, ""
            self.jobs.put_nowait(_Speak(text, self.flushes + 1))
            if message.flush:
                self.flushes += 1
                self.jobs.put_nowait(_FlushDone(self.flushes))
            if message.ends:
                self.input_ended = True
                self.jobs.put_nowait(_End())
            return
        ready, self.buffer = complete_sentences(self.buffer)
        if ready.strip():
            self.jobs.put_nowait(_Speak(ready, self.flushes + 1))

    async def _work(self) -> None:
        try:
            while True:
                job = await self.jobs.get()
                if isinstance(job, _Speak):
                    await self._speak(job)
                elif isinstance(job, _FlushDone):
                    await self.session.send(
                        {
                            "type": "flush_done",
                            "context_id": self.id,
                            "done": False,
                            "flush_done": True,
                            "flush_id": job.flush_id,
                            "status_code": 206,
                        }
                    )
                else:
                    await self.session.send(done_event(self.id))
                    return
        except (WebSocketDisconnect, WebSocketDisconnected):
            return  # the socket is gone: nobody to tell (the speech was settled on the way out)
        except Exception as exc:
            await self.session.report(exc, self.id)
        finally:
            self.session.finished(self.id)

    async def _speak(self, job: _Speak) -> None:
        if not re.search(r"\w", job.text):
            return  # whitespace or a stray quote left at a flush: nothing to say, nothing to charge
        session = self.session
        if self.voice is None:
            self.voice = await run_in_threadpool(spoken_voice, session.catalog, session.account, self.first)
        speech = await open_speech(
            session.catalog,
            session.settings,
            self.voice,
            job.text,
            self.first.output_format.audio_format(),
            speed=self.first.rate,
            streamed=True,
            timed=self.first.add_timestamps,
            offset_s=self.audio_s,
        )
        async with contextlib.aclosing(speech_events(speech, self.id, {"flush_id": job.flush_id})) as events:
            async for event in events:
                await session.send(event)
        self.audio_s = speech.audio_s


class SocketSession:
    """A WebSocket's contexts, several at once: messages are read here and handed to their context;
    each context speaks on its own task; events leave one at a time. Closing (or losing) the socket
    stops every context, charged for what it sent."""

    def __init__(self, websocket: WebSocket, account: str):
        self.websocket, self.account = websocket, account
        self.catalog: Catalog = websocket.app.state.catalog
        self.settings: Settings = websocket.app.state.settings
        self.contexts: dict[str, SocketContext] = {}
        self.ended: set[str] = set()
        self.stopping: set[asyncio.Task] = set()
        self._sending = asyncio.Lock()

    async def run(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message.get("text"))
        finally:
            await self._stop_all()

    async def send(self, event: dict) -> None:
        async with self._sending:
            await self.websocket.send_text(json.dumps(event))

    async def report(self, exc: Exception, context_id: str | None) -> None:
        """An `error` event; nothing when the socket is already gone."""
        with contextlib.suppress(Exception):
            await self.send(error_event(exc, context_id))

    def finished(self, context_id: str) -> None:
        self.contexts.pop(context_id, None)
        self.ended.add(context_id)

    async def _handle(self, text: str | None) -> None:
        data = _json_object(text)
        context_id = data.get("context_id") if isinstance(data, dict) else None
        try:
            if data is None:
                raise InvalidSource("send each message as a JSON object in a text frame")
            if data.get("cancel"):
                if not isinstance(context_id, str):
                    raise InvalidSource("a cancel names the context_id it cancels")
                self._cancel(context_id)
                return
            self._take(SocketRequest.model_validate(data))
        except (ProVoiceError, ValidationError) as exc:
            context_id = context_id if isinstance(context_id, str) else None
            if context_id in self.contexts:
                self._cancel(context_id)  # an error ends its context, as the clients read it
            await self.report(exc, context_id)

    def _take(self, message: SocketRequest) -> None:
        context = self.contexts.get(message.context_id)
        if context is None:
            if message.context_id in self.ended:
                after_end(message)
                return
            if len(self.contexts) >= MAX_CONTEXTS:
                raise InvalidSource(f"at most {MAX_CONTEXTS} contexts may be open on one WebSocket")
            context = self.contexts[message.context_id] = SocketContext(self, message)
        context.take(message)

    def _cancel(self, context_id: str) -> None:
        """Stop a context now: what it sent is charged, nothing more is said."""
        context = self.contexts.pop(context_id, None)
        self.ended.add(context_id)
        if context is not None:
            self._stop(context)

    def _stop(self, context: SocketContext) -> None:
        context.task.cancel()
        self.stopping.add(context.task)
        context.task.add_done_callback(self.stopping.discard)

    async def _stop_all(self) -> None:
        for context in list(self.contexts.values()):
            self._stop(context)
        await asyncio.gather(*self.stopping, return_exceptions=True)


def after_end(message: SocketRequest) -> None:
    """A message to a context whose input has ended: a repeated end is ignored, more text refused."""
    if message.transcript or message.continue_:
        raise InvalidSource(f"context {message.context_id} has ended: use a new context_id")


def _json_object(text: str | None) -> dict | None:
    try:
        data = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        return None
    return data if isinstance(data, dict) else None


@router.websocket("/tts/websocket")
async def tts_websocket(websocket: WebSocket) -> None:
    """`tts.websocket_connect()`: JSON messages both ways, several contexts at once. Send
    `{context_id, model_id, transcript, voice, output_format (raw), continue, flush?, add_timestamps?}`;
    `{context_id, cancel: true}` cancels; `transcript: ""` with `continue: false` ends a context.
    Each context answers `chunk` (base64 audio), `timestamps`, `flush_done`, then `done` (or `error`).
    The key comes as `Authorization: Bearer`, `X-API-Key` or `?api_key=` / `?access_token=`."""
    try:
        account = await websocket_account(websocket)
    except ProVoiceError as exc:
        await _refuse(websocket, exc)
        return
    await websocket.accept()
    await SocketSession(websocket, account).run()


async def _refuse(websocket: WebSocket, exc: ProVoiceError) -> None:
    """Refuse the handshake with the HTTP status and body a request would get (when the server can)."""
    status = status_for(exc)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = cartesia_error(status, type(exc).__name__, str(exc))
        await websocket.send_denial_response(JSONResponse(body, status_code=status))
    else:
        await websocket.close(code=1008, reason=str(exc)[:120])
