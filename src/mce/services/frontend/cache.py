"""The gateway's catalog reads: a fast path to the product service, with a microcache of a second in front of it.

`GET /api/products`, `/api/products/{id}` and `/api/categories` are most of the shop's traffic. A valid one is
read here, straight from the product service (or from memory) without the framework's routing and dependency
work, which was a third of the gateway's CPU per read. Anything else, an invalid request included, goes on to the
FastAPI route, which answers it as always; a valid request is checked with the very model that route uses, and
relayed by the same function, so the two cannot differ.

The cache is safe under concurrency: a read that started before a write never stores what it read (a generation
counter); keys are the validated parameters (so `?x=1`, `?x=2`... cannot fill memory); expired entries are evicted
and the total size is bounded. Each entry keeps a gzip copy, compressed once when stored.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mce.kit.compression import GZIP_MIN_BYTES, accepts_gzip, compress
from mce.kit.contracts import MAX_ID, ProductListQuery
from mce.kit.errors import DomainError, domain_error_response
from mce.kit.fastpath import path_id, query_model

# Route templates, for the metrics of reads answered here.
LISTING = SimpleNamespace(path="/api/products")
ONE_PRODUCT = SimpleNamespace(path="/api/products/{product_id}")
CATEGORIES = SimpleNamespace(path="/api/categories")
PRODUCT_PREFIX = "/api/products/"

Key = tuple[str, str]
# Reads the product service: its path and query string -> the response to hand back as it is.
CatalogRead = Callable[[str], Awaitable[Response]]


@dataclass(frozen=True)
class CatalogRequest:
    """A valid catalog read: where it goes at the product service (the validated parameters, encoded in a fixed
    order), and the route it stands for."""

    path: str
    query: str
    route: SimpleNamespace

    @property
    def key(self) -> Key:
        """The cache key: the backend path and the validated parameters, so `?x=1`... cannot make new entries."""
        return self.path, self.query

    @property
    def target(self) -> str:
        """The path and query string to read at the product service."""
        return f"{self.path}?{self.query}" if self.query else self.path


def catalog_request(scope: Scope) -> CatalogRequest | None:
    """The catalog read a GET asks for, or None when it is not one or not valid (the route then answers it)."""
    if scope["path"] == "/api/categories":
        return CatalogRequest("/categories", "", CATEGORIES)
    product_id = path_id(scope, PRODUCT_PREFIX, MAX_ID)
    if product_id is not None:
        return CatalogRequest(f"/products/{product_id}", "", ONE_PRODUCT)
    query = query_model(scope, "/api/products", ProductListQuery)
    if query is None:
        return None
    # Encoded once, for both the key and the call: encoding the parameters was a tenth of a relay's Python time.
    return CatalogRequest("/products", urlencode(sorted(query.model_dump(exclude_none=True).items())), LISTING)


@dataclass(frozen=True)
class CachedResponse:
    """A complete 200 answer, its gzip copy, and when it goes stale."""

    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes
    gzipped: bytes | None

    @property
    def size(self) -> int:
        """Bytes it holds."""
        return len(self.body) + len(self.gzipped or b"")


class CatalogCache:
    """Catalog reads answered from memory for `ttl` seconds (0 turns the memory off, not the fast path).

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
        self.read: CatalogRead | None = None
        self._entries: OrderedDict[Key, CachedResponse] = OrderedDict()
        self._in_flight: dict[Key, asyncio.Future[None]] = {}

    def clear(self) -> None:
        """Forget everything, after the catalog changed; reads already under way will not store what they got."""
        self.generation += 1
        self._entries.clear()
        self.bytes = 0

    async def handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a valid catalog read here, from memory or the product service; pass anything else to app."""
        request = catalog_request(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if request is None or self.read is None:
            await app(scope, receive, send)
            return
        # Metrics label the request by the route it stands for.
        scope["route"] = request.route
        if self.ttl <= 0:
            await self._fetch_and_store(request, scope, receive, send, store=False)
            return
        key = request.key
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
            await self._fetch_and_store(request, scope, receive, send)
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
        await _send_entry(entry, b"hit", scope, send)
        return True

    async def _fetch_and_store(
        self, request: CatalogRequest, scope: Scope, receive: Receive, send: Send, *, store: bool = True
    ) -> None:
        """Read from the product service and keep the answer if it was a 200 and no write happened meanwhile.

        A 200 is compressed once, here, for both the answer and the entry (the cache sits ahead of the gzip
        middleware): compressing the answer and the entry apart cost a sixth of the gateway's CPU per uncached read.
        """
        generation = self.generation
        response = await self._read(request)
        # With the cache off (a zero TTL) nothing was looked up, so the answer says nothing of the cache.
        outcome = b"miss" if store else None
        if response.status_code != 200:
            if outcome is not None:
                response.raw_headers.append((b"x-cache", outcome))
            await response(scope, receive, send)
            return
        per_request = (b"x-request-id", b"set-cookie", b"x-cache")
        headers = [(k, v) for k, v in response.raw_headers if k.lower() not in per_request]
        body = response.body
        compressible = len(body) >= GZIP_MIN_BYTES
        gzipped = compress(body) if compressible and (store or accepts_gzip(scope)) else None
        if compressible:
            headers.append((b"vary", b"Accept-Encoding"))
        entry = CachedResponse(time.monotonic() + self.ttl, headers, body, gzipped)
        await _send_entry(entry, outcome, scope, send)
        if store and generation == self.generation:
            self._store(request.key, entry)

    async def _read(self, request: CatalogRequest) -> Response:
        """The product service's answer; its being down or failing is answered here, as the route would."""
        try:
            return await self.read(request.target)
        except DomainError as exc:
            return domain_error_response(exc)

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
    """Puts the catalog read path, and its cache, in front of the app."""

    def __init__(self, app: ASGIApp, *, cache: CatalogCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.cache.handle(self.app, scope, receive, send)


async def _send_entry(entry: CachedResponse, outcome: bytes | None, scope: Scope, send: Send) -> None:
    """Send an entry's answer, gzipped when the client takes gzip and a gzip copy exists; outcome goes in X-Cache."""
    body, headers = entry.body, [*entry.headers]
    if outcome is not None:
        headers.append((b"x-cache", outcome))
    if entry.gzipped is not None and accepts_gzip(scope):
        body = entry.gzipped
        headers = [(k, v) for k, v in headers if k != b"content-length"]
        headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header_has(scope: Scope, names: tuple[bytes, ...], token: bytes) -> bool:
    """Whether any of the named request headers contains the token."""
    return any(name in names and token in value.lower() for name, value in scope["headers"])
