"""The cart service over HTTP on its embedded backends, with a fake product service behind its client."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.http import AsgiTransport, HttpResponse, NotSent
from mce.kit.settings import SettingsError, load_settings
from mce.services.cart.app import create_app
from mce.services.cart.settings import CartSettings
from tests.fakes.catalog import FakeCatalog


class DownTransport:
    """A product service that refuses every connection."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HttpResponse:
        self.calls += 1
        raise NotSent("connection refused")

    async def aclose(self) -> None:
        return None


@pytest.fixture
def catalog() -> FakeCatalog:
    fake = FakeCatalog()
    fake.add("Pen", price="0.10", stock=50)
    fake.add("Stapler", price="19.90", stock=2)
    return fake


@pytest.fixture
def client(tmp_path: Path, catalog: FakeCatalog) -> Iterator[TestClient]:
    app = create_app(CartSettings(data_dir=tmp_path), product_transport=AsgiTransport(catalog.app()))
    with TestClient(app) as client:
        yield client


def error(response) -> dict:  # noqa: ANN001
    body = response.json()["error"]
    return {"code": body["code"], "fields": [d["field"] for d in body["details"]]}


def test_an_unknown_cart_reads_as_empty_at_version_0(client) -> None:
    response = client.get("/carts/session-1")
    assert response.status_code == 200
    assert response.json() == {
        "cart_id": "session-1",
        "user_id": None,
        "items": [],
        "total": "0.00",
        "updated_at": None,
        "version": 0,
    }


def test_a_shopper_fills_changes_and_empties_a_cart(client) -> None:
    first = client.post("/carts/s1/items", json={"product_id": 1, "quantity": 2})
    assert first.status_code == 201
    again = client.post("/carts/s1/items", json={"product_id": 1, "quantity": 1})
    assert again.status_code == 200
    assert again.json()["items"] == [
        {"product_id": 1, "name": "Pen", "quantity": 3, "price": "0.10", "subtotal": "0.30"}
    ]
    assert again.json()["total"] == "0.30" and again.json()["version"] == 2
    client.post("/carts/s1/items", json={"product_id": 2})
    changed = client.patch("/carts/s1/items/1", json={"quantity": 5})
    assert changed.status_code == 200 and changed.json()["total"] == "20.40"
    removed = client.delete("/carts/s1/items/2")
    assert [line["product_id"] for line in removed.json()["items"]] == [1]
    cleared = client.delete("/carts/s1")
    assert cleared.status_code == 200 and cleared.json()["items"] == [] and cleared.json()["version"] == 6
    assert client.get("/carts/s1").json() == cleared.json()


def test_the_catalogs_price_is_kept_whatever_the_client_sends(client) -> None:
    response = client.post("/carts/s1/items", json={"product_id": 2, "quantity": 1, "price": "0.01"})
    assert response.status_code == 422 and error(response)["fields"] == ["price"]
    response = client.post("/carts/s1/items", json={"product_id": 2, "quantity": 1})
    assert response.json()["items"][0]["price"] == "19.90"


def test_every_change_reaches_the_bus_in_order(client, tmp_path) -> None:
    client.post("/carts/s1/items", json={"product_id": 1, "quantity": 2})
    client.patch("/carts/s1/items/1", json={"quantity": 4})
    client.delete("/carts/s1/items/1")
    client.post("/carts/s1/items", json={"product_id": 2})
    client.delete("/carts/s1")
    bus = SqliteEventBus(tmp_path / "bus.db")
    subscription = bus.subscribe("carts", "test")
    seen = []
    deadline = time.monotonic() + 5
    while len(seen) < 5 and time.monotonic() < deadline:
        seen += [d.event for d in subscription.poll(10, timeout=0.2)]
    bus.close()
    assert [e.type for e in seen] == [
        "CartItemAdded",
        "CartItemQuantityChanged",
        "CartItemRemoved",
        "CartItemAdded",
        "CartCleared",
    ]
    assert {e.key for e in seen} == {"s1"}
    assert seen[0].data["price"] == "0.10" and seen[-1].data["items"][0]["price"] == "19.90"


def test_a_body_that_is_not_json_is_400_malformed_json(client) -> None:
    response = client.post("/carts/s1/items", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize("quantity", [0, 100, "abc", -1, 1.5, None, True])
def test_a_quantity_outside_1_to_99_is_422_naming_quantity(client, quantity: object) -> None:
    added = client.post("/carts/s1/items", json={"product_id": 1, "quantity": quantity})
    assert added.status_code == 422 and error(added) == {"code": "invalid", "fields": ["quantity"]}
    client.post("/carts/s1/items", json={"product_id": 1})
    changed = client.patch("/carts/s1/items/1", json={"quantity": quantity})
    assert changed.status_code == 422 and error(changed) == {"code": "invalid", "fields": ["quantity"]}
    assert client.get("/carts/s1").json()["items"][0]["quantity"] == 1


def test_adding_past_the_line_limit_is_422_naming_quantity(client, catalog) -> None:
    catalog.products[1]["stock"] = 500
    client.post("/carts/s1/items", json={"product_id": 1, "quantity": 99})
    response = client.post("/carts/s1/items", json={"product_id": 1, "quantity": 1})
    assert response.status_code == 422 and error(response) == {"code": "invalid", "fields": ["quantity"]}


@pytest.mark.parametrize("cart_id", ["a" * 65, "a.b", "semi;colon", "%C3%A4", "a%0A"])
def test_a_bad_cart_id_is_422_naming_cart_id(client, cart_id: str) -> None:
    for response in (
        client.get(f"/carts/{cart_id}"),
        client.post(f"/carts/{cart_id}/items", json={"product_id": 1}),
        client.delete(f"/carts/{cart_id}"),
    ):
        assert response.status_code == 422 and error(response)["fields"] == ["cart_id"]


@pytest.mark.parametrize("product_id", ["0", "abc", "2147483648"])
def test_a_bad_product_id_in_the_path_is_422(client, product_id: str) -> None:
    response = client.patch(f"/carts/s1/items/{product_id}", json={"quantity": 1})
    assert response.status_code == 422 and error(response)["fields"] == ["product_id"]


def test_an_unknown_product_is_422_saying_so(client) -> None:
    response = client.post("/carts/s1/items", json={"product_id": 999})
    assert response.status_code == 422 and error(response)["fields"] == ["product_id"]
    assert "no product 999" in response.json()["error"]["message"]
    assert client.get("/carts/s1").json()["version"] == 0


def test_more_than_the_stock_is_409_out_of_stock(client) -> None:
    response = client.post("/carts/s1/items", json={"product_id": 2, "quantity": 3})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "out_of_stock"
    assert "only 2 in stock" in response.json()["error"]["message"]


def test_changing_or_removing_a_product_not_in_the_cart_is_404(client) -> None:
    assert client.patch("/carts/s1/items/1", json={"quantity": 2}).status_code == 404
    assert client.delete("/carts/s1/items/1").status_code == 404


def test_a_product_service_that_is_down_makes_adds_503_but_reads_still_work(tmp_path) -> None:
    down = DownTransport()
    with TestClient(create_app(CartSettings(data_dir=tmp_path), product_transport=down)) as client:
        response = client.post("/carts/s1/items", json={"product_id": 1})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert down.calls >= 1
        assert client.get("/carts/s1").status_code == 200
        ready = client.get("/readyz").json()
        assert ready["status"] == "degraded" and ready["checks"]["database"] == "ok"


def test_an_unknown_cart_store_fails_at_startup_naming_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("MCE_CART_STORE", "mongodb")
    with pytest.raises(SettingsError, match="MCE_CART_STORE.*sqlite"):
        load_settings(CartSettings)


def test_a_visitors_cart_is_merged_into_another_over_http(client) -> None:
    client.post("/carts/guest-a/items", json={"product_id": 1, "quantity": 2})
    client.post("/carts/account-1/items", json={"product_id": 1, "quantity": 1})
    merged = client.post("/carts/account-1/merge", json={"from_cart_id": "guest-a"})
    assert merged.status_code == 200 and merged.json()["items"][0]["quantity"] == 3
    assert client.get("/carts/guest-a").json()["version"] == 0
    assert client.post("/carts/account-1/merge", json={"from_cart_id": "../x"}).status_code == 422
