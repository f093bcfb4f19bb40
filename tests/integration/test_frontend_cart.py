"""The shopper's cart through the gateway: the session decides whose cart it is; the real cart service keeps it."""

from __future__ import annotations

import pytest
from frontend_fakes import DownTransport, FakeCatalog, cart_service, frontend_client

SHOPPER = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Pen", price="0.10", stock=50)
    catalog.add("Stapler", price="19.90", stock=2)
    return catalog


@pytest.fixture
def shop(tmp_path, catalog):
    with cart_service(tmp_path, catalog) as carts, frontend_client(tmp_path, catalog, cart_transport=carts) as client:
        yield client


def test_a_visitor_without_a_cart_sees_an_empty_one_and_gets_no_session(shop) -> None:
    response = shop.get("/api/cart")
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": "0.00", "updated_at": None, "version": 0}
    assert "set-cookie" not in response.headers


def test_a_visitor_fills_a_cart_at_the_catalogs_prices_with_exact_totals(shop) -> None:
    made = shop.post("/api/cart/items", json={"product_id": 1, "quantity": 3})
    shop.post("/api/cart/items", json={"product_id": 2})
    cart = shop.get("/api/cart").json()
    assert made.status_code == 201 and "mce_session" in made.headers["set-cookie"]
    assert [(line["name"], line["quantity"], line["price"]) for line in cart["items"]] == [
        ("Pen", 3, "0.10"),
        ("Stapler", 1, "19.90"),
    ]
    assert cart["total"] == "20.20" and cart["version"] == 2
    assert "cart_id" not in cart and "user_id" not in cart


def test_a_visitor_changes_and_removes_lines_and_empties_the_cart(shop) -> None:
    shop.post("/api/cart/items", json={"product_id": 1, "quantity": 3})
    shop.post("/api/cart/items", json={"product_id": 2})
    assert shop.patch("/api/cart/items/1", json={"quantity": 5}).json()["total"] == "20.40"
    assert shop.delete("/api/cart/items/2").json()["total"] == "0.50"
    assert shop.delete("/api/cart/items/2").status_code == 404
    assert shop.delete("/api/cart").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"product_id": 1, "quantity": 0}, 422, "quantity"),
        ({"product_id": 1, "quantity": 100}, 422, "quantity"),
        ({"product_id": 1, "quantity": "2"}, 422, "quantity"),
        ({"product_id": 0}, 422, "product_id"),
        ({"product_id": 1, "price": "0.01"}, 422, "price"),
        ({"product_id": 999}, 422, "product_id"),
    ],
)
def test_a_bad_add_is_refused_naming_the_field(shop, body, status, field) -> None:
    response = shop.post("/api/cart/items", json=body)
    assert response.status_code == status
    assert field in [detail["field"] for detail in response.json()["error"]["details"]]


def test_more_than_the_stock_is_refused_as_out_of_stock(shop) -> None:
    response = shop.post("/api/cart/items", json={"product_id": 2, "quantity": 3})
    assert response.status_code == 409 and response.json()["error"]["code"] == "out_of_stock"


def test_two_visitors_never_see_each_others_cart(tmp_path, catalog) -> None:
    with (
        cart_service(tmp_path, catalog) as carts,
        frontend_client(tmp_path / "a", catalog, cart_transport=carts) as first,
        frontend_client(tmp_path / "b", catalog, cart_transport=carts) as second,
    ):
        first.post("/api/cart/items", json={"product_id": 1, "quantity": 2})
        assert second.get("/api/cart").json()["items"] == []
        second.post("/api/cart/items", json={"product_id": 2})
        assert [line["name"] for line in first.get("/api/cart").json()["items"]] == ["Pen"]


def test_a_signed_in_shopper_keeps_their_cart_across_sessions(tmp_path, catalog) -> None:
    with cart_service(tmp_path, catalog) as carts:
        with frontend_client(tmp_path, catalog, cart_transport=carts) as laptop:
            laptop.post("/api/accounts", json=SHOPPER)
            laptop.post("/api/cart/items", json={"product_id": 1, "quantity": 2})
        with frontend_client(tmp_path, catalog, cart_transport=carts) as phone:
            assert phone.get("/api/cart").json()["items"] == []
            phone.post("/api/session", json={"email": SHOPPER["email"], "password": SHOPPER["password"]})
            assert [line["quantity"] for line in phone.get("/api/cart").json()["items"]] == [2]


def test_no_cart_change_is_taken_from_another_sites_page(shop) -> None:
    forged = shop.post("/api/cart/items", json={"product_id": 1}, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert shop.get("/api/cart").json()["items"] == []


def test_the_cart_service_down_is_a_clear_503(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        response = client.post("/api/cart/items", json={"product_id": 1})
    assert response.status_code == 503 and response.json()["error"]["code"] == "unavailable"
    assert "cart" in response.json()["error"]["message"]


def test_a_visitors_cart_follows_them_into_a_new_account(shop) -> None:
    shop.post("/api/cart/items", json={"product_id": 1, "quantity": 2})
    shop.post("/api/accounts", json=SHOPPER)
    assert [(line["name"], line["quantity"]) for line in shop.get("/api/cart").json()["items"]] == [("Pen", 2)]


def test_a_visitors_cart_joins_the_one_their_account_had(tmp_path, catalog) -> None:
    with cart_service(tmp_path, catalog) as carts:
        with frontend_client(tmp_path, catalog, cart_transport=carts) as laptop:
            laptop.post("/api/accounts", json=SHOPPER)
            laptop.post("/api/cart/items", json={"product_id": 1, "quantity": 2})
        with frontend_client(tmp_path, catalog, cart_transport=carts) as phone:
            phone.post("/api/cart/items", json={"product_id": 1, "quantity": 1})
            phone.post("/api/cart/items", json={"product_id": 2})
            phone.post("/api/session", json={"email": SHOPPER["email"], "password": SHOPPER["password"]})
            lines = {line["name"]: line["quantity"] for line in phone.get("/api/cart").json()["items"]}
    assert lines == {"Pen": 3, "Stapler": 1}


def test_signing_in_works_with_the_cart_service_down_and_the_cart_joins_at_the_next_sign_in(tmp_path, catalog) -> None:
    with cart_service(tmp_path, catalog) as carts, frontend_client(tmp_path, catalog, cart_transport=carts) as client:
        client.post("/api/cart/items", json={"product_id": 1, "quantity": 2})
        client.app.state.backends.cart.transport = DownTransport()
        assert client.post("/api/accounts", json=SHOPPER).status_code == 201
        client.app.state.backends.cart.transport = carts
        assert client.get("/api/cart").json()["items"] == []
        again = client.post("/api/session", json={"email": SHOPPER["email"], "password": SHOPPER["password"]})
        assert again.status_code == 200
        assert [line["quantity"] for line in client.get("/api/cart").json()["items"]] == [2]
