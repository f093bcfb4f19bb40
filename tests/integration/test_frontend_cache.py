"""The gateway's catalog microcache: hot reads from memory, never stale after a write through the gateway."""

import asyncio
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from frontend_fakes import ADMIN_TOKEN, FakeCatalog, FakeSearch

from mce.services.frontend.app import create_app
from mce.services.frontend.cache import CatalogCache
from mce.services.frontend.settings import FrontendSettings

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Desk Lamp", price=59.99, category="Home")
    return catalog


def gateway(tmp_path, catalog: FakeCatalog, ttl: float = 60.0) -> TestClient:
    settings = FrontendSettings(data_dir=tmp_path, admin_token=ADMIN_TOKEN, session_secret="s", catalog_cache_ttl=ttl)
    app = create_app(
        settings,
        product_transport=httpx.ASGITransport(app=catalog.app()),
        search_transport=httpx.ASGITransport(app=FakeSearch(catalog).app()),
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
        assert client.get(f"/api/products/{product_id}").json()["price"] == 59.99
        client.put(f"/api/products/{product_id}", json={"price": 10.5}, headers=ADMIN)
        assert client.get(f"/api/products/{product_id}").json()["price"] == 10.5


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
