"""The gateway's catalog microcache: hot reads from memory, never stale after a write through the gateway."""

import asyncio
import gzip
import time

import pytest
from fastapi.testclient import TestClient
from frontend_fakes import ADMIN_TOKEN, FakeCatalog, FakeSearch, frontend_settings

from mce.kit.http import AsgiTransport
from mce.services.frontend.app import create_app
from mce.services.frontend.cache import CatalogCache, cache_key

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
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    cache = CatalogCache(ttl=10)
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


def test_keys_keep_only_the_parameters_the_route_reads_in_a_fixed_order() -> None:
    assert cache_key(_scope("/api/products", b"sort=name&limit=5&junk=1")) == cache_key(
        _scope("/api/products", b"limit=5&sort=name")
    )
    assert cache_key(_scope("/api/categories", b"x=1")) == cache_key(_scope("/api/categories"))
    assert cache_key(_scope("/api/products/7", b"x=1")) == ("/api/products/7", "")
    assert cache_key(_scope("/api/search", b"q=a")) is None
    assert cache_key(_scope("/api/products/abc")) is None


def test_junk_parameters_cannot_fill_the_cache(tmp_path, catalog) -> None:
    with gateway(tmp_path, catalog) as client:
        for n in range(50):
            client.get("/api/products", params={"limit": 5, f"junk{n}": n})
        assert len(client.app.state.catalog_cache) == 1
    assert len(catalog.calls_to("GET", "/products")) == 1


async def _answer(body: bytes, gate: asyncio.Event | None = None):
    async def app(scope, receive, send) -> None:
        if gate is not None:
            await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


async def _receive() -> dict:
    return {"type": "http.request", "body": b""}


def test_a_read_that_started_before_a_write_does_not_store_what_it_read() -> None:
    cache = CatalogCache(ttl=10)
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def race() -> None:
        gate = asyncio.Event()
        slow_old_read = asyncio.create_task(
            cache.handle(await _answer(b'{"price":"old"}', gate), _scope("/api/products"), _receive, send)
        )
        await asyncio.sleep(0.01)
        cache.clear()  # a write went through the gateway while the read was on its way back
        gate.set()
        await slow_old_read

    asyncio.run(race())
    assert len(cache) == 0


def test_expired_entries_are_evicted_and_total_bytes_stay_bounded() -> None:
    cache = CatalogCache(ttl=10, max_bytes=10_000)

    async def send(message) -> None:
        return None

    async def fill() -> None:
        for n in range(40):
            await cache.handle(await _answer(b"x" * 900), _scope(f"/api/products/{n}"), _receive, send)

    asyncio.run(fill())
    assert cache.bytes <= 10_000 and len(cache) < 40
    assert ("/api/products/39", "") in cache._entries and ("/api/products/0", "") not in cache._entries
    cache.ttl = 0.01
    asyncio.run(fill())
    time.sleep(0.02)
    asyncio.run(cache.handle(await_free_app(), _scope("/api/products/99"), _receive, send))
    assert len(cache) == 1


def await_free_app():
    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


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
