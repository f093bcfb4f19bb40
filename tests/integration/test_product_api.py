"""The product service over HTTP, on its embedded backends, with the outbox relaying to the bus."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.sqlite import SqliteEventBus
from mce.services.product.app import create_app
from mce.services.product.settings import ProductSettings

TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
NEW = {
    "name": "Wireless Headphones",
    "description": "Crisp sound",
    "price": 59.99,
    "stock": 7,
    "category": "Electronics",
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    app = create_app(ProductSettings(data_dir=data_dir, admin_token=TOKEN, max_body_bytes=64 * 1024))
    with TestClient(app) as client:
        yield client


def test_an_admin_creates_a_product_and_anyone_reads_it(client) -> None:
    created = client.post("/products", json=NEW, headers=ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["price"] == 59.99 and body["version"] == 1 and body["image_url"] is None
    assert client.get(f"/products/{body['id']}").json() == body


def test_writes_without_the_admin_token_are_refused_and_change_nothing(client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.post("/products", json=NEW, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert client.get("/products").json()["total"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": -1}, "price"),
        ({"price": 1.234}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": 1e12}, "price"),
        ({"stock": -3}, "stock"),
        ({"stock": 2.5}, "stock"),
        ({"stock": "4"}, "stock"),
        ({"stock": True}, "stock"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"category": ""}, "category"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_get_a_422_naming_the_field(client, change, field) -> None:
    response = client.post("/products", json={**NEW, **change}, headers=ADMIN)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert any(field in detail["field"] for detail in error["details"])
    assert client.get("/products").json()["total"] == 0


def test_malformed_json_is_a_400(client) -> None:
    response = client.post("/products", content=b'{"name": ', headers={**ADMIN, "content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_oversize_bodies_are_refused_with_413(client) -> None:
    response = client.post("/products", json={**NEW, "description": "x" * 100_000}, headers=ADMIN)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_partial_update_changes_only_the_given_fields(client) -> None:
    product = client.post("/products", json=NEW, headers=ADMIN).json()
    updated = client.put(f"/products/{product['id']}", json={"price": "49.50"}, headers=ADMIN)
    assert updated.status_code == 200
    assert updated.json()["price"] == 49.5 and updated.json()["name"] == NEW["name"] and updated.json()["version"] == 2


def test_an_update_with_a_stale_version_is_a_409(client) -> None:
    product = client.post("/products", json=NEW, headers=ADMIN).json()
    client.put(f"/products/{product['id']}", json={"stock": 1, "version": 1}, headers=ADMIN)
    stale = client.put(f"/products/{product['id']}", json={"stock": 2, "version": 1}, headers=ADMIN)
    assert stale.status_code == 409
    assert stale.json()["error"]["details"] == {"current_version": 2}


def test_an_empty_update_or_null_required_field_is_a_422(client) -> None:
    product = client.post("/products", json=NEW, headers=ADMIN).json()
    assert client.put(f"/products/{product['id']}", json={}, headers=ADMIN).status_code == 422
    assert client.put(f"/products/{product['id']}", json={"name": None}, headers=ADMIN).status_code == 422


def test_delete_removes_the_product(client) -> None:
    product = client.post("/products", json=NEW, headers=ADMIN).json()
    assert client.delete(f"/products/{product['id']}", headers=ADMIN).status_code == 204
    missing = client.get(f"/products/{product['id']}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.delete(f"/products/{product['id']}", headers=ADMIN).status_code == 404


@pytest.mark.parametrize("path", ["/products/0", "/products/abc", "/products/99999999999", "/products/-1"])
def test_impossible_ids_are_rejected_cleanly(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 422
    assert "error" in response.json()


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "sort=cheapest", "limit=abc", "category="])
def test_bad_listing_parameters_are_a_422(client, query) -> None:
    response = client.get(f"/products?{query}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


def test_listing_pages_filters_and_counts(client) -> None:
    for i in range(5):
        client.post("/products", json={**NEW, "name": f"Book {i}", "category": "Books", "price": 10 + i}, headers=ADMIN)
    client.post("/products", json=NEW, headers=ADMIN)
    page = client.get("/products?category=Books&sort=price_desc&limit=2&offset=1").json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert [p["price"] for p in page["items"]] == [13, 12]
    assert client.get("/categories").json() == {
        "items": [{"name": "Books", "count": 5}, {"name": "Electronics", "count": 1}]
    }


def test_every_change_reaches_the_bus_in_order(client, data_dir) -> None:
    product = client.post("/products", json=NEW, headers=ADMIN).json()
    client.put(f"/products/{product['id']}", json={"stock": 3}, headers=ADMIN)
    client.delete(f"/products/{product['id']}", headers=ADMIN)
    bus = SqliteEventBus(data_dir / "bus.db")
    subscription = bus.subscribe("products", "test")
    seen: list[str] = []
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:
        seen += [d.event.type for d in subscription.poll(10, timeout=0.2)]
    bus.close()
    assert seen == ["ProductCreated", "ProductUpdated", "ProductDeleted"]


def test_health_readiness_and_metrics_answer(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "service": "product"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "bus": "ok"}
    client.get("/products")
    metrics = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/products",service="product",status="200"}' in metrics
    assert "http_request_duration_seconds_bucket" in metrics


def test_responses_carry_a_request_id_and_echo_a_given_one(client) -> None:
    assert len(client.get("/products").headers["x-request-id"]) == 32
    assert client.get("/products", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"


def test_unknown_routes_and_methods_get_json_errors(client) -> None:
    assert client.get("/nope").json()["error"]["code"] == "not_found"
    assert client.patch("/products").json()["error"]["code"] == "method_not_allowed"
