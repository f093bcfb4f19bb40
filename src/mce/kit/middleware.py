"""Pure-ASGI middleware around every service: request id, trace context, deadline, load shedding, body cap, HEAD,
metrics, access log.

It is the outermost layer of our own, so it also answers for any exception nothing else handled: with a 500 that
carries the request id, logged with it.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Sequence

import orjson
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mce.kit.context import TIMEOUT_HEADER, deadline_var, parse_timeout, request_id_var
from mce.kit.errors import error_body
from mce.kit.logs import access_log
from mce.kit.metrics import HttpMetrics
from mce.kit.shedding import LoadShedder
from mce.kit.tracing import TraceContext, Tracing, end_server_span, new_span_id, parse_traceparent, trace_var

log = logging.getLogger(__name__)

# Probes and scrapes are answered even under overload: shedding them would take a busy pod out of service.
UNSHED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

UnhandledResponder = Callable[[Scope, Exception], Response]
# (method, path pattern, most bytes): routes that take bigger bodies than the rest, such as an image upload.
BodyLimits = Sequence[tuple[str, re.Pattern[str], int]]


_TIMEOUT_HEADER = TIMEOUT_HEADER.encode()


def _wanted_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None, bytes | None]:
    """(x-request-id, timeout, content-length, traceparent): the first of each, read in one pass over the headers."""
    request_id = timeout = length = traceparent = None
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            request_id = request_id or value
        elif key == _TIMEOUT_HEADER:
            timeout = timeout or value
        elif key == b"content-length":
            length = length if length is not None else value
        elif key == b"traceparent":
            traceparent = traceparent or value
    return request_id, timeout, length, traceparent


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


def json_500(_scope: Scope, _exc: Exception) -> Response:
    """The default answer to an unhandled error."""
    body = orjson.dumps(error_body("internal", "internal error; the request id is in the X-Request-ID header"))
    return Response(body, status_code=500, media_type="application/json")


class RequestContextMiddleware:
    """Give every request an id, a trace context and a deadline, shed what is over capacity, cap its body, count it
    and log it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        max_body_bytes: int,
        budget_s: float,
        shedder: LoadShedder,
        tracing: Tracing | None = None,
        on_unhandled: Callable[[], UnhandledResponder] = lambda: json_500,
        body_limits: BodyLimits = (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.body_limits = tuple(body_limits)
        self.budget_s = budget_s
        self.shedder = shedder
        self.tracing = tracing or Tracing("")
        self.on_unhandled = on_unhandled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_id, raw_timeout, declared, raw_traceparent = _wanted_headers(scope)
        started = time.perf_counter()
        parent = parse_traceparent(raw_traceparent) if raw_traceparent is not None else None
        method = scope["method"]
        if self.tracing.tracer is not None:
            trace = self.tracing.start_server_span(method, scope["path"], parent)
        elif parent is not None:
            trace = TraceContext(parent[0], new_span_id(), parent[2])
        else:
            trace = TraceContext(_new_request_id(), new_span_id())
        # Without an id of the caller's, the trace id serves as the request id: one id to search the logs by.
        request_id = _valid_request_id(raw_id) or trace.trace_id
        given = parse_timeout(raw_timeout)
        budget = self.budget_s if given is None else min(self.budget_s, given)
        id_token = request_id_var.set(request_id)
        trace_token = trace_var.set(trace)
        deadline_token = deadline_var.set(time.monotonic() + budget)
        head = method == "HEAD"
        if head:
            # HEAD is GET without the body: route it as GET, drop the body on the way out.
            scope = {**scope, "method": "GET"}
        status = 500
        response_started = False
        rid_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        counted = scope["path"] not in UNSHED_PATHS
        shedder = self.shedder
        try:
            if counted and shedder.overloaded:
                shedder.shed += 1
                self.metrics.count_shed()
                status = 503
                await self._answer(
                    send_with_id,
                    503,
                    "overloaded",
                    "the service is at capacity; retry shortly",
                    extra=[(b"retry-after", b"1")],
                )
                return
            limit = self._limit(method, scope["path"])
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                status = 413 if declared.isdigit() else 400
                code, message = (
                    ("payload_too_large", f"request body is over {limit} bytes")
                    if status == 413
                    else ("bad_request", "Content-Length is not a number")
                )
                await self._answer(send_with_id, status, code, message, extra=[(b"connection", b"close")])
                return
            if counted:
                shedder.in_flight += 1
            try:
                await self.app(scope, self._capped(receive, limit), send_with_id)
            finally:
                if counted:
                    shedder.in_flight -= 1
        except Exception as exc:
            # The id goes in the record itself too, so the line carries it whoever formats it, and whenever.
            log.exception("unhandled error", exc_info=exc, extra={"request_id": request_id})
            if not response_started:
                await self.on_unhandled()(scope, exc)(scope, receive, send_with_id)
            status = 500
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.observe(template, method, status, elapsed)
            if trace.span is not None:
                end_server_span(trace, template, method, status)
            # Probes come every few seconds from the supervisor or Kubernetes: only worth a line when debugging.
            access_log.write(
                logging.INFO if counted else logging.DEBUG,
                method,
                scope["path"],
                status,
                template,
                round(elapsed * 1000, 3),
            )
            deadline_var.reset(deadline_token)
            trace_var.reset(trace_token)
            request_id_var.reset(id_token)

    def _limit(self, method: str, path: str) -> int:
        """The most bytes a body to this method and path may have: its route's own limit, else the service's."""
        for route_method, pattern, limit in self.body_limits:
            if method == route_method and pattern.fullmatch(path):
                return limit
        return self.max_body_bytes

    def _capped(self, receive: Receive, limit: int) -> Receive:
        """Wrap receive so a streamed body over the limit fails with 413."""
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status_code=413, detail=f"request body is over {limit} bytes")
            return message

        return capped_receive

    @staticmethod
    async def _answer(send: Send, status: int, code: str, message: str, *, extra: list[tuple[bytes, bytes]]) -> None:
        """Answer with an error body without reading the request's."""
        body = orjson.dumps(error_body(code, message))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
