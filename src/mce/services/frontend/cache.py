"""A gateway microcache for catalog reads: hot pages are served from memory for a second at most.

Safe under concurrency: a read that started before a write can never store what it read (a generation counter),
keys are normalised to the parameters the route knows (so `?x=1`, `?x=2`... cannot fill memory), expired entries
are evicted, and the total size is bounded. Each entry keeps a gzip copy, compressed once when stored.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mce.kit.app import GZIP_LEVEL, GZIP_MIN_BYTES

# The catalog reads every shopper shares, each with the parameters it reads; search has its own caches.
CACHEABLE = {
    "/api/products": ("category", "limit", "offset", "sort"),
    "/api/categories": (),
}
CACHEABLE_PREFIX = "/api/products/"
Key = tuple[str, str]


@dataclass(frozen=True)
class CachedResponse:
    """A complete 200 answer, its gzip copy, and when it goes stale."""

    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes
    gzipped: bytes | None
    route: Any

    @property
    def size(self) -> int:
        """Bytes it holds."""
        return len(self.body) + len(self.gzipped or b"")


def cache_key(scope: Scope) -> Key | None:
    """The path and its known parameters in a fixed order, or None when the request is not a cacheable read."""
    path = scope["path"]
    if path.startswith(CACHEABLE_PREFIX):
        rest = path[len(CACHEABLE_PREFIX) :]
        return (path, "") if rest.isdigit() else None
    known = CACHEABLE.get(path)
    if known is None:
        return None
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    given: dict[str, str] = {}
    for name, value in pairs:
        if name in known:
            # The route reads a parameter once; a repeated one is the last value, as FastAPI takes it.
            given[name] = value
    return path, urlencode(sorted(given.items()))


class CatalogCache:
    """GETs of the catalog are answered from memory for `ttl` seconds.

    Writes made through this gateway clear it at once (see `clear`); writes made elsewhere show up within `ttl`.
    A request with `Cache-Control: no-cache` always goes to the catalog. Concurrent misses for one page share a
    single backend call, so an expiring hot page cannot stampede the catalog.
    """

    def __init__(self, *, ttl: float, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.generation = 0
        self.bytes = 0
        self._entries: OrderedDict[Key, CachedResponse] = OrderedDict()
        self._in_flight: dict[Key, asyncio.Future[None]] = {}

    def clear(self) -> None:
        """Forget everything, after the catalog changed; reads already under way will not store what they got."""
        self.generation += 1
        self._entries.clear()
        self.bytes = 0

    async def handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request from memory, or through app, keeping a cacheable answer."""
        key = cache_key(scope) if self.ttl > 0 and scope["type"] == "http" and scope["method"] == "GET" else None
        if key is None:
            await app(scope, receive, send)
            return
        if not _header_has(scope, (b"cache-control", b"pragma"), b"no-cache"):
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
            if self._in_flight.get(key) is done:
                del self._in_flight[key]
            done.set_result(None)

    async def _serve_cached(self, key: Key, scope: Scope, send: Send) -> bool:
        """Answer from memory if a fresh entry exists."""
        entry = self._entries.get(key)
        if entry is None or entry.expires <= time.monotonic():
            return False
        self.hits += 1
        # Metrics label the request by the route template that produced the entry.
        scope["route"] = entry.route
        body, headers = entry.body, [*entry.headers, (b"x-cache", b"hit")]
        if entry.gzipped is not None and _header_has(scope, (b"accept-encoding",), b"gzip"):
            body = entry.gzipped
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    async def _fetch_and_store(self, app: ASGIApp, key: Key, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request and keep its answer if it was a complete 200 and no write happened meanwhile."""
        generation = self.generation
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
        if start is None or start["status"] != 200 or not complete or generation != self.generation:
            return
        per_request = (b"x-request-id", b"set-cookie", b"x-cache")
        headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() not in per_request]
        body = b"".join(chunks)
        gzipped = gzip.compress(body, compresslevel=GZIP_LEVEL) if len(body) >= GZIP_MIN_BYTES else None
        if gzipped is not None:
            headers.append((b"vary", b"Accept-Encoding"))
        self._store(key, CachedResponse(time.monotonic() + self.ttl, headers, body, gzipped, scope.get("route")))

    def _store(self, key: Key, entry: CachedResponse) -> None:
        """Keep the entry, evicting the expired and then the oldest while over the size bound."""
        if entry.size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        now = time.monotonic()
        # Entries share one TTL, so the oldest inserted are the first to expire.
        while self._entries:
            oldest_key, oldest = next(iter(self._entries.items()))
            if oldest.expires > now and self.bytes + entry.size <= self.max_bytes:
                break
            del self._entries[oldest_key]
            self.bytes -= oldest.size
        self._entries[key] = entry
        self.bytes += entry.size

    def __len__(self) -> int:
        return len(self._entries)


class CatalogCacheMiddleware:
    """Puts a CatalogCache in front of the app."""

    def __init__(self, app: ASGIApp, *, cache: CatalogCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.cache.handle(self.app, scope, receive, send)


def _header_has(scope: Scope, names: tuple[bytes, ...], token: bytes) -> bool:
    """Whether any of the named request headers contains the token."""
    return any(name in names and token in value.lower() for name, value in scope["headers"])
