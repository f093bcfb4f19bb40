"""A gateway microcache for catalog reads: hot pages are served from memory for a second at most."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Catalog reads that every shopper shares; search is left out, it has its own cache of what is costly.
CACHEABLE = re.compile(r"^/api/(products|products/\d+|categories)$")


@dataclass(frozen=True)
class CachedResponse:
    """A complete 200 answer and when it goes stale."""

    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any


class CatalogCache:
    """GETs of the catalog are answered from memory for `ttl` seconds.

    Writes made through this gateway clear it at once (see `clear`); writes made elsewhere show up within `ttl`.
    A request with `Cache-Control: no-cache` always goes to the catalog. Concurrent misses for one page share
    a single backend call, so an expiring hot page cannot stampede the catalog.
    """

    def __init__(self, *, ttl: float, max_entries: int = 4096) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: dict[tuple[str, bytes], CachedResponse] = {}
        self._in_flight: dict[tuple[str, bytes], asyncio.Future[None]] = {}

    def clear(self) -> None:
        """Forget everything, after the catalog changed."""
        self._entries.clear()

    async def handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request from memory, or through app, keeping a cacheable answer."""
        if not self._applies(scope):
            await app(scope, receive, send)
            return
        key = (scope["path"], scope["query_string"])
        if not _wants_fresh(scope):
            if await self._serve_cached(key, scope, send):
                return
            in_flight = self._in_flight.get(key)
            if in_flight is not None:
                await asyncio.shield(in_flight)
                if await self._serve_cached(key, scope, send):
                    return
        self.misses += 1
        done = asyncio.get_running_loop().create_future()
        self._in_flight[key] = done
        try:
            await self._fetch_and_store(app, key, scope, receive, send)
        finally:
            self._in_flight.pop(key, None)
            done.set_result(None)

    def _applies(self, scope: Scope) -> bool:
        """Only GETs of the shared catalog paths, and only when caching is on."""
        return (
            self.ttl > 0
            and scope["type"] == "http"
            and scope["method"] == "GET"
            and CACHEABLE.match(scope["path"]) is not None
        )

    async def _serve_cached(self, key: tuple[str, bytes], scope: Scope, send: Send) -> bool:
        """Answer from memory if a fresh entry exists."""
        entry = self._entries.get(key)
        if entry is None or entry.expires <= time.monotonic():
            return False
        self.hits += 1
        # Metrics label the request by the route template that produced the entry.
        scope["route"] = entry.route
        await send({"type": "http.response.start", "status": 200, "headers": [*entry.headers, (b"x-cache", b"hit")]})
        await send({"type": "http.response.body", "body": entry.body})
        return True

    async def _fetch_and_store(
        self, app: ASGIApp, key: tuple[str, bytes], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the request and keep its answer if it was a complete 200."""
        start: Message | None = None
        chunks: list[bytes] = []
        complete = False

        async def capture(message: Message) -> None:
            nonlocal start, complete
            if message["type"] == "http.response.start":
                start = message
                message = {**message, "headers": [*message.get("headers", ()), (b"x-cache", b"miss")]}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        await app(scope, receive, capture)
        if start is None or start["status"] != 200 or not complete:
            return
        headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() not in (b"x-request-id", b"set-cookie")]
        if len(self._entries) >= self.max_entries:
            # Dicts keep insertion order: dropping the first entry drops the oldest.
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = CachedResponse(time.monotonic() + self.ttl, headers, b"".join(chunks), scope.get("route"))


class CatalogCacheMiddleware:
    """Puts a CatalogCache in front of the app."""

    def __init__(self, app: ASGIApp, *, cache: CatalogCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.cache.handle(self.app, scope, receive, send)


def _wants_fresh(scope: Scope) -> bool:
    """Whether the caller asked to bypass caches (Cache-Control: no-cache, or Pragma: no-cache)."""
    for name, value in scope["headers"]:
        if name in (b"cache-control", b"pragma") and b"no-cache" in value.lower():
            return True
    return False
