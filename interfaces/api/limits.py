"""Request bodies within bounds, before any route parses them.

JSON (and any other non-multipart) bodies are read up to `PROVOICE_MAX_JSON_BYTES` (413 beyond
it, without reading the rest) and refused when nested deeper than `PROVOICE_MAX_JSON_DEPTH`
(Python's json module would otherwise recurse until it fails with a 500). Multipart uploads have
their own streaming limits (`uploads.py`). Validation errors name the field and the rule, never
echo the input back.
"""

from __future__ import annotations

import json
import re

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interfaces.api.uploads import human_bytes

_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
WITH_BODY = {"POST", "PUT", "PATCH"}


def nesting_depth(body: bytes, limit: int) -> int:
    """The deepest bracket nesting outside strings, counting only up to just past `limit`."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return 0
    depth = deepest = 0
    for token in _TOKENS.finditer(body):
        t = token.group()
        if t in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif t in (b"]", b"}"):
            depth -= 1
    return deepest


def _refusal(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


class BodyLimits:
    """ASGI middleware: buffer a non-multipart body within `max_bytes`, check its depth, replay it."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int):
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get("content-type", "").startswith("multipart/"):
            return await self.app(scope, receive, send)
        too_large = _refusal(
            413, "BodyTooLarge", f"the request body is larger than the limit of {human_bytes(self.max_bytes)}"
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await too_large(scope, receive, send)
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await too_large(scope, receive, send)
        if nesting_depth(bytes(body), self.max_depth) > self.max_depth:
            return await _refusal(400, "BodyTooDeep", f"the request body nests deeper than {self.max_depth} levels")(
                scope, receive, send
            )
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape (`detail`: [{loc, msg, type}]) without the input it would echo back; under
    a compatible service's prefix, that service's error shape with the same facts in its message."""
    from interfaces.api.errors import error_response, shape_for

    errors = []
    for e in exc.errors():
        item = {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:200], "type": e.get("type", "")}
        errors.append(item)
    if shape_for(request.url.path):
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in errors)
        return error_response(request, 422, "ValidationError", message or "invalid request")
    return JSONResponse(
        {"error": "ValidationError", "detail": json.loads(json.dumps(errors, default=str))}, status_code=422
    )
