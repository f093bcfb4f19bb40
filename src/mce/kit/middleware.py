"""Pure-ASGI middleware: request id, body size limit, metrics and one access-log line per request."""

from __future__ import annotations

import logging
import random
import time

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mce.kit.errors import error_body
from mce.kit.logs import request_id_var
from mce.kit.metrics import HttpMetrics

REQUEST_ID_HEADER = "x-request-id"
access_log = logging.getLogger("mce.access")


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header, or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _valid_request_id(raw: bytes | None) -> str | None:
    """Accept a caller's request id only if it is short and printable, so logs stay clean."""
    if raw and len(raw) <= 128 and raw.isascii():
        text = raw.decode()
        if text.isprintable():
            return text
    return None


def _new_request_id() -> str:
    """32 hex digits; a correlation id needs uniqueness, not secrecy, and urandom per request is slow."""
    return f"{random.getrandbits(128):032x}"


class RequestContextMiddleware:
    """Give every request an id, cap its body, time it, count it and log it."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _valid_request_id(_header(scope, b"x-request-id")) or _new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        rid_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            declared = _header(scope, b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
                status = 413 if declared.isdigit() else 400
                await self._reject(send, status, rid_header)
                return
            await self.app(scope, self._capped(receive), send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.observe(template, scope["method"], status, elapsed)
            access_log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={"route": template, "status": status, "duration_ms": round(elapsed * 1000, 3)},
            )
            request_id_var.reset(token)

    def _capped(self, receive: Receive) -> Receive:
        """Wrap receive so a streamed body over the limit fails with 413."""
        received = 0
        limit = self.max_body_bytes

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status_code=413, detail=f"request body is over {limit} bytes")
            return message

        return capped_receive

    async def _reject(self, send: Send, status: int, rid_header: tuple[bytes, bytes]) -> None:
        """Answer without reading the body."""
        if status == 413:
            body = orjson.dumps(error_body("payload_too_large", f"request body is over {self.max_body_bytes} bytes"))
        else:
            body = orjson.dumps(error_body("bad_request", "Content-Length is not a number"))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    rid_header,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
