"""The gateway's catalog microcache: hot reads from memory, never stale after a write through the gateway."""

import asyncio
import gzip
import time

import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from frontend_fakes import ADMIN_TOKEN, FakeCatalog, FakeSearch, frontend_settings
from isal import isal_zlib

from mce.kit.http import AsgiTransport
from mce.services.frontend import cache
from mce.services.frontend.app import create_app
from mce.services.frontend.cache import CatalogCache, catalog_request

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Desk Lamp", price="59.99", category="Home")
    return catalog


def gateway(tmp_path, catalog: FakeCatalog, ttl: float = 60.0) -> TestClient:
    app = create_app(
        frontend_settings(tmp_path, catalog_cache_ttl=ttl),
        product_transport=AsgiTransport(catalog.app()),
        search_transport=AsgiTransport(FakeSearch(catalog).app()),
    )
    return TestClient(app)


def test_a_repeated_catalog_read_is_answered_from_memory(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog) as client:
        first = client.get("/api/products", params={"limit": 5})
        second = client.get("/api/products", params={"limit": 5})
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.content == second.content
    assert len(catalog.calls_to("GET", "/products")) == 1
    assert second.headers["x-request-id"] != first.headers["x-request-id"]


def test_different_queries_are_cached_apart(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog) as client:
        client.get("/api/products", params={"limit": 5})
        client.get("/api/products", params={"limit": 6})
    assert len(catalog.calls_to("GET", "/products")) == 2


def test_a_write_through_the_gateway_clears_the_cache_at_once(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog) as client:
        product_id = client.get("/api/products").json()["items"][0]["id"]
        assert client.get(f"/api/products/{product_id}").json()["price"] == "59.99"
        client.put(f"/api/products/{product_id}", json={"price": 10.5}, headers=ADMIN)
        assert client.get(f"/api/products/{product_id}").json()["price"] == "10.50"


def test_no_cache_requests_always_reach_the_catalog(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog) as client:
        client.get("/api/categories")
        fresh = client.get("/api/categories", headers={"Cache-Control": "no-cache"})
    assert fresh.headers["x-cache"] == "miss"
    assert len(catalog.calls_to("GET", "/categories")) == 2


def test_errors_are_never_cached(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog) as client:
        assert client.get("/api/products/999").status_code == 404
        assert client.get("/api/products/999").status_code == 404
    assert len(catalog.calls_to("GET", "/products/999")) == 2


def test_a_zero_ttl_turns_the_cache_off(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog, ttl=0) as client:
        client.get("/api/products")
        assert "x-cache" not in client.get("/api/products").headers
    assert len(catalog.calls_to("GET", "/products")) == 2


def test_with_the_cache_off_pages_are_still_gzipped_for_clients_that_ask(tmp_path, catalog) -> None:
    for n in range(20):
        catalog.add(f"Lamp {n}", category="Home", description="A warm light for reading. " * 3)
    with gateway(tmp_path, catalog, ttl=0) as client:
        zipped = client.get("/api/products", headers={"Accept-Encoding": "gzip"})
        plain = client.get("/api/products", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["vary"]
    assert "content-encoding" not in plain.headers and zipped.json() == plain.json()
    assert int(zipped.headers["content-length"]) < int(plain.headers["content-length"])


def test_entries_expire_after_the_ttl(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog, ttl=0.05) as client:
        client.get("/api/products")
        time.sleep(0.1)
        assert client.get("/api/products").headers["x-cache"] == "miss"


def test_concurrent_misses_for_one_page_make_one_backend_call() -> None:
    calls = 0

    async def slow_app(scope, receive, send) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)

    cache = CatalogCache(ttl=10)

    async def slow_read(target: str) -> Response:
        await slow_app(None, None, None)
        return Response(b"{}", media_type="application/json")

    cache.read = slow_read
    scope = {"type": "http", "method": "GET", "path": "/api/products", "query_string": b"", "headers": []}
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def storm() -> None:
        await asyncio.gather(*(cache.handle(slow_app, dict(scope), receive, send) for _ in range(20)))

    asyncio.run(storm())
    assert calls == 1
    assert sum(1 for m in sent if m["type"] == "http.response.body") == 20


def _scope(path: str, query: bytes = b"", headers: list | None = None) -> dict:
    return {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": headers or []}


def _key(path: str, query: bytes = b""):
    request = catalog_request(_scope(path, query))
    return None if request is None else request.key


def test_keys_are_the_validated_parameters_so_spellings_of_one_read_share_an_entry() -> None:
    assert _key("/api/products", b"sort=name&limit=5&junk=1") == _key("/api/products", b"limit=5&sort=name")
    assert _key("/api/products", b"") == _key("/api/products", b"limit=20&offset=0&sort=newest")
    assert _key("/api/categories", b"x=1") == _key("/api/categories")
    assert _key("/api/products/007") == _key("/api/products/7") == ("/products/7", "")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/search", b"q=a"),
        ("/api/products/abc", b""),
        ("/api/products/0", b""),
        ("/api/products/2147483648", b""),
        ("/api/products", b"limit=0"),
        ("/api/products", b"sort=cheapest"),
        ("/api/products", b"category="),
    ],
)
def test_anything_but_a_valid_catalog_read_is_left_to_the_route(path, query) -> None:
    assert catalog_request(_scope(path, query)) is None


def test_junk_parameters_cannot_fill_the_cache(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog) as client:
        for n in range(50):
            client.get("/api/products", params={"limit": 5, f"junk{n}": n})
        assert len(client.app.state.catalog_cache) == 1
    assert len(catalog.calls_to("GET", "/products")) == 1


def _reader(body: bytes, gate: asyncio.Event | None = None):
    async def read(target: str) -> Response:
        if gate is not None:
            await gate.wait()
        return Response(body, media_type="application/json")

    return read


async def _receive() -> dict:
    return {"type": "http.request", "body": b""}


async def _nowhere(message) -> None:
    return None


def test_a_read_that_started_before_a_write_does_not_store_what_it_read() -> None:
    cache = CatalogCache(ttl=10)

    async def race() -> None:
        gate = asyncio.Event()
        cache.read = _reader(b'{"price":"old"}', gate)
        slow_old_read = asyncio.create_task(cache.handle(None, _scope("/api/products"), _receive, _nowhere))
        await asyncio.sleep(0.01)
        cache.clear()  # a write went through the gateway while the read was on its way back
        gate.set()
        await slow_old_read

    asyncio.run(race())
    assert len(cache) == 0


def test_expired_entries_are_evicted_and_total_bytes_stay_bounded() -> None:
    cache = CatalogCache(ttl=10, max_bytes=10_000)
    cache.read = _reader(b"x" * 900)

    async def fill(count: int) -> None:
        for n in range(1, count + 1):
            await cache.handle(None, _scope(f"/api/products/{n}"), _receive, _nowhere)

    asyncio.run(fill(40))
    assert cache.bytes <= 10_000 and len(cache) < 40
    assert ("/products/40", "") in cache._entries and ("/products/1", "") not in cache._entries

    short = CatalogCache(ttl=0.01)
    short.read = _reader(b"{}")
    for n in range(1, 6):
        asyncio.run(short.handle(None, _scope(f"/api/products/{n}"), _receive, _nowhere))
    time.sleep(0.02)
    asyncio.run(short.handle(None, _scope("/api/products/99"), _receive, _nowhere))
    assert len(short) == 1


def test_invalid_reads_get_the_routes_own_errors(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog) as client:
        response = client.get("/api/products", params={"limit": 0})
    assert response.status_code == 422 and response.json()["error"]["details"][0]["field"] == "limit"
    assert catalog.calls_to("GET", "/products") == []


def test_reads_answered_on_the_fast_path_are_counted_under_their_route(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog, ttl=0) as client:
        client.get("/api/products/1")
        metrics = client.app.state.metrics.render().decode()
    assert 'route="/api/products/{product_id}"' in metrics


def test_a_cached_page_is_served_gzipped_to_clients_that_ask(tmp_path, catalog) -> None:
    for n in range(20):
        catalog.add(f"Lamp {n}", category="Home", description="A warm light for reading. " * 3)
    with gateway(tmp_path, catalog) as client:
        client.get("/api/products")
        hit = client.get("/api/products", headers={"Accept-Encoding": "gzip"})
        plain = client.get("/api/products", headers={"Accept-Encoding": "identity"})
    assert hit.headers["x-cache"] == "hit" and hit.headers["content-encoding"] == "gzip"
    assert plain.headers["x-cache"] == "hit" and "content-encoding" not in plain.headers
    assert hit.json() == plain.json()
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


def test_a_page_read_through_is_gzipped_once_for_the_client_and_the_entry(tmp_path, catalog, monkeypatch) -> None:
    for n in range(20):
        catalog.add(f"Lamp {n}", category="Home", description="A warm light for reading. " * 3)
    compressions = []
    real_compress, real_compressor = cache.compress, isal_zlib.compressobj
    # The cache's own one-shot compression, and the streaming kind the gzip middleware uses.
    monkeypatch.setattr(cache, "compress", lambda *a, **kw: compressions.append(1) or real_compress(*a, **kw))
    monkeypatch.setattr(isal_zlib, "compressobj", lambda *a, **kw: compressions.append(1) or real_compressor(*a, **kw))
    with gateway(tmp_path, catalog) as client:
        miss = client.get("/api/products", headers={"Accept-Encoding": "gzip"})
        hit = client.get("/api/products", headers={"Accept-Encoding": "identity"})
    assert miss.headers["x-cache"] == "miss" and miss.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in miss.headers["vary"]
    assert hit.headers["x-cache"] == "hit" and miss.json() == hit.json()
    assert len(compressions) == 1
