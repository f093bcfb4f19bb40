"""Checkout and orders through the gateway, with the real product, cart and order services behind it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from frontend_fakes import FakeCatalog, frontend_client

from mce.services.order.payment import DECLINED_CARD
from tests.inprocess import ADDRESS, ADMIN, ADMIN_TOKEN, ClientTransport, Shop, payment, shop

SHOPPER = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}
CHECKOUT = {"payment": payment(), "shipping_address": ADDRESS}


@contextmanager
def browser(services: Shop) -> Iterator[TestClient]:
    """A shopper's browser: a frontend of its own (its own cookies) on the shared services and the shared accounts."""
    with frontend_client(
        services.data_dir / "frontend",
        FakeCatalog(),
        product_transport=ClientTransport(services.product),
        cart_transport=ClientTransport(services.cart),
        order_transport=ClientTransport(services.order),
    ) as client:
        yield client


@pytest.fixture
def services(tmp_path) -> Iterator[Shop]:
    with shop(tmp_path) as running:
        running.lamp = running.add_product("Lamp", price="12.50", stock=5)
        yield running


def _checkout(client: TestClient, key: str = "key-1", body: dict | None = None):
    return client.post("/api/orders", json=body or CHECKOUT, headers={"Idempotency-Key": key})


def test_a_guest_checks_out_once_and_follows_the_order(services) -> None:
    with browser(services) as guest:
        guest.post("/api/cart/items", json={"product_id": services.lamp, "quantity": 2})
        placed = _checkout(guest)
        again = _checkout(guest)
        listed = guest.get("/api/orders").json()
        one = guest.get(placed.headers["location"])
        cart = guest.get("/api/cart").json()
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "paid" and order["total_amount"] == "25.00"
    assert placed.headers["location"] == f"/api/orders/{order['id']}"
    assert again.status_code == 201 and again.json()["id"] == order["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert [item["id"] for item in listed["items"]] == [order["id"]]
    assert one.status_code == 200 and [step["status"] for step in one.json()["history"]][-1] == "paid"
    assert cart["items"] == [] and services.stock(services.lamp) == 3


def test_checkout_needs_an_idempotency_key_and_a_cart(services) -> None:
    with browser(services) as guest:
        empty = _checkout(guest)
        guest.post("/api/cart/items", json={"product_id": services.lamp})
        keyless = guest.post("/api/orders", json=CHECKOUT)
    assert empty.status_code == 422 and empty.json()["error"]["details"][0]["field"] == "cart"
    assert keyless.status_code == 400 and "Idempotency-Key" in keyless.json()["error"]["message"]


def test_a_declined_card_places_nothing_and_puts_the_stock_back(services) -> None:
    with browser(services) as guest:
        guest.post("/api/cart/items", json={"product_id": services.lamp, "quantity": 2})
        declined = _checkout(guest, body={**CHECKOUT, "payment": payment(DECLINED_CARD)})
    assert declined.status_code == 402 and declined.json()["error"]["code"] == "payment_declined"
    assert services.stock(services.lamp) == 5


def test_no_shopper_reads_another_shoppers_order_whatever_they_send(services) -> None:
    with browser(services) as ada, browser(services) as bo:
        ada.post("/api/cart/items", json={"product_id": services.lamp})
        placed = _checkout(ada)
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        assert bo.get(f"/api/orders/{order_id}").status_code == 404
        assert bo.get("/api/orders").json()["items"] == []
        bo.post("/api/cart/items", json={"product_id": services.lamp})
        # Naming someone else as the owner is overruled by the session.
        mine = _checkout(bo, "key-bo", {**CHECKOUT, "owner": "guest-someone-else"})
        assert mine.status_code == 201 and bo.get(f"/api/orders/{mine.json()['id']}").status_code == 200
        assert ada.get(f"/api/orders/{mine.json()['id']}").status_code == 404


def test_a_guests_orders_move_to_the_account_they_sign_up_for(services) -> None:
    with browser(services) as guest:
        guest.post("/api/cart/items", json={"product_id": services.lamp})
        order_id = _checkout(guest).json()["id"]
        guest.post("/api/accounts", json=SHOPPER)
        listed = guest.get("/api/orders").json()["items"]
    assert [item["id"] for item in listed] == [order_id]


def test_staff_move_orders_along_and_shoppers_cannot(services) -> None:
    with browser(services) as ada:
        ada.post("/api/accounts", json=SHOPPER)
        ada.post("/api/cart/items", json={"product_id": services.lamp})
        placed = _checkout(ada)
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        forbidden = ada.post(f"/api/orders/{order_id}/status", json={"status": "shipped"})
        everyone = ada.get("/api/orders", params={"all": "true"})
        ada.delete("/api/session")
        anonymous = ada.post(f"/api/orders/{order_id}/status", json={"status": "shipped"})
        shipped = ada.post(f"/api/orders/{order_id}/status", json={"status": "shipped"}, headers=ADMIN)
        backwards = ada.post(f"/api/orders/{order_id}/status", json={"status": "paid"}, headers=ADMIN)
        delivered = ada.post(f"/api/orders/{order_id}/status", json={"status": "delivered"}, headers=ADMIN)
        listed = ada.get("/api/orders", params={"all": "true"}, headers=ADMIN).json()["items"]
    assert forbidden.status_code == 403 and everyone.status_code == 403
    assert anonymous.status_code == 401
    assert shipped.status_code == 200 and backwards.status_code == 409
    assert [step["status"] for step in delivered.json()["history"]][-3:] == ["paid", "shipped", "delivered"]
    assert [item["id"] for item in listed] == [order_id]


def test_no_checkout_is_taken_from_another_sites_page(services) -> None:
    with browser(services) as guest:
        guest.post("/api/cart/items", json={"product_id": services.lamp})
        forged = guest.post(
            "/api/orders", json=CHECKOUT, headers={"Idempotency-Key": "k", "Origin": "https://evil.example"}
        )
    assert forged.status_code == 403 and services.stock(services.lamp) == 5


def _csrf_and_key(html: str) -> tuple[str, str]:
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    return csrf, key


def _form(csrf: str, key: str, **changes: str) -> dict[str, str]:
    card = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123", "card_name": "Ada Lovelace"}
    return {"csrf_token": csrf, "idempotency_key": key, **ADDRESS, **card, **changes}


def test_a_shopper_checks_out_on_the_page_once_however_often_the_form_is_sent(services) -> None:
    with browser(services) as guest:
        guest.post("/api/cart/items", json={"product_id": services.lamp, "quantity": 2})
        csrf, key = _csrf_and_key(guest.get("/checkout").text)
        first = guest.post("/checkout", data=_form(csrf, key), follow_redirects=False)
        second = guest.post("/checkout", data=_form(csrf, key), follow_redirects=False)
        page = guest.get(first.headers["location"]).text
        history = guest.get("/orders").text
    assert first.status_code == 303 and first.headers["location"] == second.headers["location"]
    assert "Thank you! Your order is placed and paid." in page
    assert 'data-testid="order-total">$25.00<' in page and 'data-status="paid"' in page
    assert history.count('data-testid="order-row"') == 1 and services.stock(services.lamp) == 3


def test_the_checkout_page_says_what_to_fix_and_never_draws_the_card_back(services) -> None:
    with browser(services) as guest:
        guest.post("/api/cart/items", json={"product_id": services.lamp})
        csrf, key = _csrf_and_key(guest.get("/checkout").text)
        bad = guest.post("/checkout", data=_form(csrf, key, card_number="4242 4242 4242 4241", country="Narnia"))
        _, new_key = _csrf_and_key(bad.text)
        declined = guest.post("/checkout", data=_form(csrf, new_key, card_number="4000 0000 0000 0002"))
    assert bad.status_code == 422
    assert 'data-testid="error-card_number"' in bad.text and 'data-testid="error-country"' in bad.text
    assert "4242 4242 4242 4241" not in bad.text and 'value="12 St James' in bad.text
    assert new_key != key
    assert declined.status_code == 402 and "declined" in declined.text
    assert services.stock(services.lamp) == 5


def test_an_empty_cart_has_no_checkout(services) -> None:
    with browser(services) as guest:
        response = guest.get("/checkout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/cart"


def test_staff_ship_and_deliver_on_the_orders_page_and_the_shopper_sees_the_timeline(services) -> None:
    with browser(services) as ada:
        ada.post("/api/cart/items", json={"product_id": services.lamp})
        placed = _checkout(ada)
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        with browser(services) as staff:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', staff.get("/admin/login").text).group(1)
            staff.post("/admin/login", data={"csrf_token": csrf, "token": ADMIN_TOKEN})
            table = staff.get("/admin/orders").text
            assert f'data-order-id="{order_id}"' in table and 'data-testid="move-shipped"' in table
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', table).group(1)
            staff.post(f"/admin/orders/{order_id}/status", data={"csrf_token": csrf, "status": "shipped"})
            done = staff.post(f"/admin/orders/{order_id}/status", data={"csrf_token": csrf, "status": "delivered"})
            refused = staff.post(f"/admin/orders/{order_id}/status", data={"csrf_token": csrf, "status": "shipped"})
        page = ada.get(f"/orders/{order_id}").text
    assert f"Order {order_id} is delivered." in done.text
    assert 'class="flash flash-error"' in refused.text and "delivered" in refused.text
    steps = ("paid", "shipped", "delivered")
    assert [step for step in steps if f'data-status="{step}"' in page] == list(steps)


def test_a_shopper_cannot_open_the_staff_orders_page(services) -> None:
    with browser(services) as ada:
        ada.post("/api/accounts", json=SHOPPER)
        response = ada.get("/admin/orders", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login")
