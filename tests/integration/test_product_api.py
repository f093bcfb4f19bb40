"""The product service over HTTP on its embedded backends: what its API contract suite does not cover."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.settings import SettingsError
from mce.services.product.app import create_app
from mce.services.product.settings import ProductSettings

TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
NEW = {"name": "Wireless Headphones", "description": "Crisp sound", "price": "59.99", "stock": 7, "category": "Audio"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    app = create_app(ProductSettings(data_dir=data_dir, admin_token=TOKEN, max_body_bytes=64 * 1024))
    with TestClient(app) as client:
        client.post("/categories", json={"name": "Audio"}, headers=ADMIN)
        yield client


def test_oversize_bodies_are_refused_with_413(client) -> None:
    response = client.post("/products", json={**NEW, "description": "x" * 100_000}, headers=ADMIN)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_every_change_reaches_the_bus_in_order_with_exact_prices(client, data_dir) -> None:
    product = client.post("/products", json=NEW, headers=ADMIN).json()
    client.put(f"/products/{product['id']}", json={"stock": 3, "version": 1}, headers=ADMIN)
    client.post(f"/products/{product['id']}/stock-adjustments", json={"delta": -1, "reason": "sale"}, headers=ADMIN)
    client.delete(f"/products/{product['id']}", headers=ADMIN)
    bus = SqliteEventBus(data_dir / "bus.db")
    subscription = bus.subscribe("products", "test")
    seen = []
    deadline = time.monotonic() + 5
    while len(seen) < 4 and time.monotonic() < deadline:
        seen += [d.event for d in subscription.poll(10, timeout=0.2)]
    bus.close()
    assert [e.type for e in seen] == ["ProductCreated", "ProductUpdated", "ProductUpdated", "ProductDeleted"]
    assert seen[0].data["price"] == "59.99"
    assert [e.data.get("stock") for e in seen[:3]] == [7, 3, 2]


def test_health_readiness_and_metrics_answer(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "service": "product"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "bus": "ok", "blobs": "ok"}
    client.get("/products")
    metrics = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/products",service="product",status="200"}' in metrics
    assert "http_request_duration_seconds_bucket" in metrics


def test_responses_carry_a_request_id_and_echo_a_given_one(client) -> None:
    assert len(client.get("/products").headers["x-request-id"]) == 32
    assert client.get("/products", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"


def test_a_client_that_keeps_guessing_the_admin_token_gets_429(data_dir) -> None:
    settings = ProductSettings(data_dir=data_dir, admin_token=TOKEN, auth_failure_limit=2)
    with TestClient(create_app(settings)) as client:
        for _ in range(2):
            assert client.delete("/products/1", headers={"Authorization": "Bearer nope"}).status_code == 401
        locked = client.delete("/products/1", headers=ADMIN)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0


def test_over_capacity_requests_are_shed_at_once_with_retry_after(data_dir) -> None:
    # The lag limit is out of reach of a busy test machine: the test sets the lag it wants.
    settings = ProductSettings(data_dir=data_dir, admin_token=TOKEN, max_in_flight=1, max_loop_lag_ms=60_000)
    app = create_app(settings)
    with TestClient(app) as client:
        shedder = app.state.shedder
        # Pretend one request is in flight; the next is answered 503 without waiting.
        shedder.in_flight = 1
        shed = client.get("/products")
        probe = client.get("/healthz")
        shedder.in_flight = 0
        # Now pretend the process ran out of CPU: its event loop runs late.
        for _ in range(10):
            shedder.observe_lag(120.0)
        lagging = client.get("/products")
        for _ in range(40):
            shedder.observe_lag(0.0)
        recovered = client.get("/products")
        metrics = client.get("/metrics").text
    assert shed.status_code == 503 and shed.json()["error"]["code"] == "overloaded"
    assert shed.headers["retry-after"] == "1"
    assert probe.status_code == 200
    assert lagging.status_code == 503 and recovered.status_code == 200
    assert 'http_requests_shed_total{service="product"} 2.0' in metrics


def test_production_refuses_to_start_without_a_token_or_a_real_database(tmp_path) -> None:
    with pytest.raises(SettingsError) as raised:
        create_app(ProductSettings(data_dir=tmp_path, env="production", database_url="postgresql://db/x"))
    assert "MCE_ADMIN_TOKEN" in str(raised.value)
    with pytest.raises(ValueError, match="MCE_DATABASE_URL"):
        ProductSettings(data_dir=tmp_path, env="production", admin_token=TOKEN)
    assert not (tmp_path / "secrets").exists()
