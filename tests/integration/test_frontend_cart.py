"""The shopper's cart through the gateway: the session decides whose cart it is; the real cart service keeps it."""

from __future__ import annotations

import re

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


SAME_SITE = {"Origin": "http://testserver"}


def test_a_visitors_first_add_from_a_product_page_needs_no_session_but_must_come_from_this_site(shop) -> None:
    page = shop.get("/products/1")
    assert "set-cookie" not in page.headers and 'name="csrf_token" value=""' in page.text
    form = {"csrf_token": "", "product_id": "1", "quantity": "2"}
    assert shop.post("/cart/items", data=form, follow_redirects=False).status_code == 403
    forged = shop.post("/cart/items", data=form, headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403
    assert shop.get("/api/cart").json()["items"] == []
    added = shop.post("/cart/items", data=form, headers=SAME_SITE, follow_redirects=False)
    assert added.status_code == 303
    assert [line["quantity"] for line in shop.get("/api/cart").json()["items"]] == [2]


def test_once_a_session_has_a_csrf_token_a_form_must_carry_it(shop) -> None:
    shop.post("/cart/items", data={"product_id": "1", "quantity": "1"}, headers=SAME_SITE)
    token = re.search(r'name="csrf_token" value="([^"]+)"', shop.get("/cart").text).group(1)
    refused = shop.post("/cart/items/1", data={"quantity": "5"}, headers=SAME_SITE, follow_redirects=False)
    assert refused.status_code == 403
    done = shop.post("/cart/items/1", data={"quantity": "5", "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert [line["quantity"] for line in shop.get("/api/cart").json()["items"]] == [5]


def test_a_shopper_manages_the_cart_page(shop) -> None:
    added = shop.post("/cart/items", data={"product_id": "1", "quantity": "3"}, headers=SAME_SITE)
    assert "Added to your cart." in added.text and 'data-testid="cart-total">$0.30<' in added.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', added.text).group(1)
    updated = shop.post("/cart/items/1", data={"csrf_token": token, "quantity": "5"})
    assert 'data-testid="cart-total">$0.50<' in updated.text
    removed = shop.post("/cart/items/1", data={"csrf_token": token, "remove": "1"})
    assert "Removed from your cart." in removed.text and 'data-testid="cart-empty"' in removed.text


@pytest.mark.parametrize(
    ("quantity", "message"), [("0", "Choose a quantity"), ("abc", "Choose a quantity"), ("3", "only 2 in stock")]
)
def test_the_shop_says_what_went_wrong_with_an_add(shop, quantity, message) -> None:
    form = {"product_id": "2", "quantity": quantity}
    page = shop.post("/cart/items", data=form, headers=SAME_SITE)
    assert message in page.text
    assert shop.get("/api/cart").json()["items"] == []


def test_a_sold_out_product_has_no_add_to_cart_button(tmp_path, catalog) -> None:
    sold_out = catalog.add("Ghost", stock=0)
    with cart_service(tmp_path, catalog) as carts, frontend_client(tmp_path, catalog, cart_transport=carts) as client:
        assert 'data-testid="add-to-cart"' not in client.get(f"/products/{sold_out['id']}").text
        assert 'data-testid="add-to-cart"' in client.get("/products/1").text
