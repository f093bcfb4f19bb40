"""Service-to-service HTTP: one pooled client per callee, bounded by the caller's deadline, retrying what is safe.

kit.keepalive carries the calls over the network (pooled HTTP/1.1 connections, httptools parsing the answers). Tests
and in-process composition put an ASGI app behind the same client with AsgiTransport.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson

from mce.kit.context import TIMEOUT_HEADER, remaining, request_id_var
from mce.kit.errors import Unavailable
from mce.kit.tracing import end_client_span, start_client_span

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})
# Below this much time left a retry could not finish, so it is not started.
MIN_ATTEMPT_S = 0.05


class NotSent(Exception):
    """The request never reached the service (refused, no route, connect timeout): safe to send again."""


class SendFailed(Exception):
    """The request may have reached the service, but no complete answer came back in time."""


@dataclass(frozen=True)
class HttpResponse:
    """A complete answer: status, headers with lower-case names, and the body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON (numbers as written, money as the strings it is sent as)."""
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        """The body as text, for logs."""
        return self.content.decode("utf-8", errors="replace")


class Transport(Protocol):
    """Sends one request and returns the whole answer; raises NotSent or SendFailed."""

    async def send(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HttpResponse: ...

    async def aclose(self) -> None: ...


class AsgiTransport:
    """Calls an ASGI app in this process, as if over HTTP: for tests, and for fakes of other services."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def send(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HttpResponse:
        path, _, query = url.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent = False
        status, answer_headers, chunks = 500, {}, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body or b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, answer_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                answer_headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", ())}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await asyncio.wait_for(self.app(scope, receive, send), timeout)
        except TimeoutError as exc:
            raise SendFailed("timed out") from exc
        except (ConnectionError, OSError) as exc:
            raise NotSent(str(exc)) from exc
        return HttpResponse(status, answer_headers, b"".join(chunks))

    async def aclose(self) -> None:
        return None


def _retry_after(response: HttpResponse) -> float:
    """The seconds a response's Retry-After asks for (0 when it gives none or no number of seconds)."""
    raw = response.headers.get("retry-after", "")
    return float(raw) if raw.isdigit() else 0.0


def _json_default(value: Any) -> Any:
    """Decimals go as their exact text; nothing else unusual is expected."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def encode_json(value: Any) -> bytes:
    """A request body as JSON bytes."""
    return orjson.dumps(value, default=_json_default)


class ServiceClient:
    """Calls one service within the current request's deadline; a failure to answer becomes Unavailable naming it.

    Reads are retried after a network failure or a 502/503/504, with jittered backoff, while the deadline allows.
    Writes are retried only when the request was never sent: a write whose answer was lost may have been applied.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.05,
        transport: Transport | None = None,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        if transport is None:
            # Imported here: the transport builds on this module's types (HttpResponse, NotSent, SendFailed).
            from mce.kit.keepalive import KeepAliveTransport

            transport = KeepAliveTransport(base_url)
        self.transport: Transport = transport

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> HttpResponse:
        """Send a request, retrying what is safe to retry, never past the deadline.

        `idempotent` marks a write that carries an idempotency key: the service applies it once however often
        it arrives, so it may be retried like a read.
        """
        method = method.upper()
        safe = idempotent or method in SAFE_METHODS
        url = path + ("?" + urlencode({k: v for k, v in params.items() if v is not None}, doseq=True) if params else "")
        sent_headers = {"accept-encoding": "identity", **(headers or {})}
        body = content
        if json is not None:
            body = encode_json(json)
            sent_headers.setdefault("content-type", "application/json")
        request_id = request_id_var.get()
        if request_id:
            sent_headers["x-request-id"] = request_id
        # One client span for the call and its retries: the callee's server spans are its children.
        traceparent, span = start_client_span(self.name, method, path)
        if traceparent is not None:
            sent_headers["traceparent"] = traceparent
        if span is None:
            return await self._send(method, path, url, sent_headers, body, safe)
        try:
            response = await self._send(method, path, url, sent_headers, body, safe)
        except BaseException as exc:
            end_client_span(span, None, exc)
            raise
        end_client_span(span, response.status)
        return response

    async def _send(
        self, method: str, path: str, url: str, sent_headers: dict[str, str], body: bytes | None, safe: bool
    ) -> HttpResponse:
        """Send, and send again while it is safe and the deadline allows."""
        attempt = 0
        while True:
            attempt += 1
            budget = min(self.timeout, remaining(self.timeout))
            if budget < MIN_ATTEMPT_S:
                raise Unavailable(f"{self.name} service did not answer in time", service=self.name)
            sent_headers[TIMEOUT_HEADER] = f"{budget:.3f}"
            try:
                response = await self.transport.send(method, url, headers=sent_headers, body=body, timeout=budget)
            except (NotSent, SendFailed) as exc:
                retry = safe or isinstance(exc, NotSent)
                if not retry or attempt > self.retries:
                    raise Unavailable(f"{self.name} service is unavailable ({exc})", service=self.name) from exc
                response = None
            else:
                if not safe or response.status not in RETRYABLE_STATUSES or attempt > self.retries:
                    return response
            pause = self.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            if response is not None:
                # A service that sheds load says when to come back; asking sooner would only add to its load.
                pause = max(pause, _retry_after(response))
            if remaining(self.timeout) - pause < MIN_ATTEMPT_S:
                if response is not None:
                    return response
                raise Unavailable(f"{self.name} service did not answer in time", service=self.name)
            log.info("retrying %s %s on %s (attempt %d)", method, path, self.name, attempt + 1)
            await asyncio.sleep(pause)

    async def get(self, path: str, **kwargs: Any) -> HttpResponse:
        """GET with retries."""
        return await self.request("GET", path, **kwargs)

    async def ping(self) -> None:
        """Raise Unavailable unless the service's /healthz answers 200."""
        response = await self.request("GET", "/healthz")
        if response.status != 200:
            raise Unavailable(f"{self.name} service answers /healthz with {response.status}", service=self.name)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self.transport.aclose()
