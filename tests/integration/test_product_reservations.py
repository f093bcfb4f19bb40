"""Stock reservations over the product service's HTTP API: the wire shapes, the admin guard and the events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.sqlite import SqliteEventBus
from mce.services.product.app import create_app
from mce.services.product.settings import ProductSettings

TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ProductSettings(data_dir=tmp_path, admin_token=TOKEN))) as client:
        client.post("/categories", json={"name": "Office"}, headers=ADMIN)
        yield client


def add(client: TestClient, name: str, price: str, stock: int) -> int:
    body = {"name": name, "price": price, "stock": stock, "category": "Office"}
    return client.post("/products", json=body, headers=ADMIN).json()["id"]


def stock(client: TestClient, product_id: int) -> int:
    return client.get(f"/products/{product_id}").json()["stock"]


def test_a_reservation_answers_each_line_with_the_name_and_price_it_read(client) -> None:
    pen, pad = add(client, "Pen", "0.10", 5), add(client, "Pad", "3.00", 2)
    body = {"reference": "order-1", "items": [{"product_id": pen, "quantity": 2}, {"product_id": pad, "quantity": 1}]}
    response = client.post("/stock-reservations", json=body, headers=ADMIN)
    assert response.status_code == 200
    assert response.json() == {
        "reference": "order-1",
        "items": [
            {"product_id": pen, "name": "Pen", "quantity": 2, "price": "0.10"},
            {"product_id": pad, "name": "Pad", "quantity": 1, "price": "3.00"},
        ],
    }
    assert client.post("/stock-reservations", json=body, headers=ADMIN).json() == response.json()
    assert (stock(client, pen), stock(client, pad)) == (3, 1)


def test_a_short_line_is_409_out_of_stock_naming_it_and_nothing_is_taken(client) -> None:
    pen, pad = add(client, "Pen", "0.10", 5), add(client, "Pad", "3.00", 1)
    body = {"reference": "order-1", "items": [{"product_id": pen, "quantity": 2}, {"product_id": pad, "quantity": 2}]}
    response = client.post("/stock-reservations", json=body, headers=ADMIN)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "out_of_stock"
    assert error["details"] == [{"field": "items.1.product_id", "message": f"product {pad}: 1 in stock, 2 wanted"}]
    assert (stock(client, pen), stock(client, pad)) == (5, 1)


def test_a_release_puts_the_stock_back_once_and_an_unknown_one_is_200(client) -> None:
    pen = add(client, "Pen", "0.10", 5)
    client.post(
        "/stock-reservations",
        json={"reference": "order-1", "items": [{"product_id": pen, "quantity": 4}]},
        headers=ADMIN,
    )
    first = client.post("/stock-reservations/order-1/release", headers=ADMIN)
    assert first.status_code == 200
    assert first.json() == {"reference": "order-1", "items": [{"product_id": pen, "quantity": 4}]}
    again = client.post("/stock-reservations/order-1/release", headers=ADMIN)
    assert again.json() == {"reference": "order-1", "items": []}
    unknown = client.post("/stock-reservations/never-made/release", headers=ADMIN)
    assert unknown.status_code == 200
    assert unknown.json()["items"] == []
    assert stock(client, pen) == 5


def test_reservations_are_for_the_admin_token_only(client) -> None:
    pen = add(client, "Pen", "0.10", 5)
    body = {"reference": "order-1", "items": [{"product_id": pen, "quantity": 1}]}
    assert client.post("/stock-reservations", json=body).status_code == 401
    assert (
        client.post(
            "/stock-reservations", json=body, headers={"Authorization": "Bearer wrong-token-0123456789"}
        ).status_code
        == 401
    )
    assert client.post("/stock-reservations/order-1/release").status_code == 401
    assert stock(client, pen) == 5


@pytest.mark.parametrize(
    "body",
    [
        {"reference": "order 1", "items": [{"product_id": 1, "quantity": 1}]},
        {"reference": "x" * 101, "items": [{"product_id": 1, "quantity": 1}]},
        {"reference": "order-1", "items": []},
        {"reference": "order-1", "items": [{"product_id": 1, "quantity": 0}]},
        {"reference": "order-1", "items": [{"product_id": 1, "quantity": "1"}]},
        {"reference": "order-1", "items": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}]},
        {"reference": "order-1", "items": [{"product_id": 1, "quantity": 1, "price": "0.01"}]},
    ],
)
def test_a_malformed_reservation_is_422(client, body) -> None:
    response = client.post("/stock-reservations", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


def test_a_malformed_release_reference_is_422(client) -> None:
    assert client.post("/stock-reservations/a%20b/release", headers=ADMIN).status_code == 422


def test_reservations_and_releases_reach_the_bus_as_product_updates(client, tmp_path: Path) -> None:
    pen = add(client, "Pen", "0.10", 5)
    client.post(
        "/stock-reservations", json={"reference": "o-1", "items": [{"product_id": pen, "quantity": 2}]}, headers=ADMIN
    )
    client.post("/stock-reservations/o-1/release", headers=ADMIN)
    subscription = SqliteEventBus(tmp_path / "bus.db").subscribe("products", "test")
    seen = []
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        seen += [d.event for d in subscription.poll(timeout=0.2)]
    assert [(e.type, e.data["stock"]) for e in seen] == [
        ("ProductCreated", 5),
        ("ProductUpdated", 3),
        ("ProductUpdated", 5),
    ]
