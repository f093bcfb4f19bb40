"""The order service over HTTP with the real product and cart services in-process: checkout and its failures,
idempotency, reading orders, staff moves and authorization."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from mce.kit import idempotency
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.settings import SettingsError
from mce.services.order.app import create_app
from mce.services.order.payment import DECLINED_CARD, INSUFFICIENT_FUNDS_CARD, TIMEOUT_CARD
from mce.services.order.settings import OrderSettings
from tests.inprocess import ADDRESS, ADMIN, ADMIN_TOKEN, Shop, payment, shop
from tests.integration.frontend_fakes import DownTransport


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Shop]:
    with shop(tmp_path) as running:
        yield running


def error(response) -> tuple[int, str]:  # noqa: ANN001
    return response.status_code, response.json()["error"]["code"]


def history(store: Shop, order_id: int, owner: str) -> list[tuple[str, str | None]]:
    order = store.order.get(f"/orders/{order_id}", params={"owner": owner}).json()
    return [(entry["status"], entry["reason"]) for entry in order["history"]]


def only_order(store: Shop, owner: str) -> dict:
    page = store.order.get("/orders", params={"owner": owner}).json()
    assert page["total"] == 1
    return page["items"][0]


def test_checkout_charges_the_catalog_price_marks_the_order_paid_and_empties_the_cart(store) -> None:
    pen, pad = store.add_product("Pen", price="0.10", stock=5), store.add_product("Pad", price="19.90", stock=2)
    store.put_in_cart("guest-a", pen, 3)
    store.put_in_cart("guest-a", pad, 1)
    # The price changes after the cart was filled: the order charges the catalog's price at checkout.
    store.product.put(f"/products/{pad}", json={"price": "21.00"}, headers=ADMIN)
    response = store.checkout("guest-a", "key-1")
    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["location"] == f"/orders/{order['id']}"
    assert order["status"] == "paid"
    assert [(i["product_id"], i["quantity"], i["price"]) for i in order["items"]] == [
        (pen, 3, "0.10"),
        (pad, 1, "21.00"),
    ]
    assert order["total_amount"] == "21.30"
    assert order["payment"] == {"brand": "visa", "last4": "4242"}
    assert order["shipping_address"] == ADDRESS
    assert [h["status"] for h in order["history"]] == ["created", "paid"]
    assert (store.stock(pen), store.stock(pad)) == (2, 1)
    assert store.cart.get("/carts/guest-a").json()["items"] == []


def test_the_same_key_and_request_get_the_first_answer_and_no_second_order(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("guest-a", pen, 2)
    first = store.checkout("guest-a", "key-1")
    again = store.checkout("guest-a", "key-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert store.stock(pen) == 3
    assert store.order.get("/orders", params={"owner": "guest-a"}).json()["total"] == 1


def test_the_same_key_with_a_different_request_is_422(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("guest-a", pen)
    store.checkout("guest-a", "key-1")
    assert error(store.checkout("guest-a", "key-1", card_number="5555 5555 5555 4444")) == (422, "invalid")


def test_one_owners_key_does_not_answer_for_another(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("guest-a", pen)
    store.put_in_cart("guest-b", pen)
    assert store.checkout("guest-a", "key-1").status_code == 201
    assert store.checkout("guest-b", "key-1").status_code == 201
    assert store.stock(pen) == 3


def test_checkout_without_an_idempotency_key_is_400(store) -> None:
    body = {"owner": "guest-a", "payment": payment(), "shipping_address": ADDRESS}
    response = store.order.post("/orders", json=body)
    assert error(response) == (400, "bad_request")
    assert "Idempotency-Key" in response.json()["error"]["message"]


def test_an_empty_cart_is_422_with_a_clear_message_and_no_order(store) -> None:
    response = store.checkout("guest-a", "key-1")
    assert error(response) == (422, "invalid")
    assert "cart is empty" in response.json()["error"]["message"]
    assert store.order.get("/orders", params={"owner": "guest-a"}).json()["total"] == 0


def test_out_of_stock_is_409_naming_the_product_and_the_order_is_cancelled_with_the_reason(store) -> None:
    pen, pad = store.add_product("Pen", stock=5), store.add_product("Pad", stock=3)
    store.put_in_cart("guest-a", pen, 2)
    store.put_in_cart("guest-a", pad, 3)
    store.product.post(f"/products/{pad}/stock-adjustments", json={"delta": -2, "reason": "sold"}, headers=ADMIN)
    response = store.checkout("guest-a", "key-1")
    assert error(response) == (409, "out_of_stock")
    assert response.json()["error"]["details"] == [
        {"field": "items.1.product_id", "message": f"product {pad}: 1 in stock, 3 wanted"}
    ]
    order = only_order(store, "guest-a")
    assert order["status"] == "cancelled"
    assert history(store, order["id"], "guest-a")[-1] == (
        "cancelled",
        f"out of stock: product {pad}: 1 in stock, 3 wanted",
    )
    assert (store.stock(pen), store.stock(pad)) == (5, 1)
    # The cart is kept, so the shopper can change it and try again.
    assert len(store.cart.get("/carts/guest-a").json()["items"]) == 2
    assert store.checkout("guest-a", "key-1").json() == response.json()


@pytest.mark.parametrize(
    ("card", "reason"), [(DECLINED_CARD, "card declined"), (INSUFFICIENT_FUNDS_CARD, "insufficient funds")]
)
def test_a_declined_card_is_402_the_stock_goes_back_and_the_order_is_cancelled(store, card, reason) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("guest-a", pen, 2)
    response = store.checkout("guest-a", "key-1", card_number=card)
    assert error(response) == (402, "payment_declined")
    assert reason in response.json()["error"]["message"]
    assert store.stock(pen) == 5
    order = only_order(store, "guest-a")
    assert (order["status"], order["payment"]) == ("cancelled", None)
    assert history(store, order["id"], "guest-a")[-1] == ("cancelled", f"payment declined: {reason}")
    assert store.checkout("guest-a", "key-1", card_number=card).status_code == 402
    assert store.stock(pen) == 5


def test_a_payment_timeout_is_503_naming_payment_and_the_stock_goes_back(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("guest-a", pen, 2)
    response = store.checkout("guest-a", "key-1", card_number=TIMEOUT_CARD)
    assert error(response) == (503, "unavailable")
    assert "payment" in response.json()["error"]["message"]
    assert response.headers["retry-after"] == "1"
    assert store.stock(pen) == 5
    assert only_order(store, "guest-a")["status"] == "cancelled"


def test_product_down_is_503_naming_product_and_the_order_is_cancelled(tmp_path) -> None:
    with shop(tmp_path, order_product=DownTransport(), order_settings={"http_timeout": 1.0}) as store:
        pen = store.add_product("Pen", stock=5)
        store.put_in_cart("guest-a", pen, 2)
        response = store.checkout("guest-a", "key-1")
        assert error(response) == (503, "unavailable")
        assert "product" in response.json()["error"]["message"]
        order = only_order(store, "guest-a")
        assert order["status"] == "cancelled"
        assert "product service is unavailable" in history(store, order["id"], "guest-a")[-1][1]
        assert store.stock(pen) == 5


def test_cart_down_is_503_naming_cart_and_makes_no_order(tmp_path) -> None:
    settings = OrderSettings(data_dir=tmp_path, admin_token=ADMIN_TOKEN, http_timeout=1.0)
    app = create_app(settings, cart_transport=DownTransport(), product_transport=DownTransport())
    with TestClient(app) as order:
        body = {"owner": "guest-a", "payment": payment(), "shipping_address": ADDRESS}
        response = order.post("/orders", json=body, headers={"Idempotency-Key": "k"})
        assert error(response) == (503, "unavailable")
        assert "cart" in response.json()["error"]["message"]
        assert order.get("/orders", params={"owner": "guest-a"}).json()["total"] == 0


def test_another_owner_gets_404_for_an_order_whatever_id_is_guessed(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("account-1", pen)
    order_id = store.checkout("account-1", "key-1").json()["id"]
    assert store.order.get(f"/orders/{order_id}", params={"owner": "account-1"}).status_code == 200
    for guess in (order_id, order_id + 1, 2**31 - 1):
        response = store.order.get(f"/orders/{guess}", params={"owner": "account-2"})
        assert error(response) == (404, "not_found")
        assert response.json()["error"]["message"] == f"order {guess} not found"
    assert store.order.get("/orders", params={"owner": "account-2"}).json()["items"] == []


def test_orders_are_listed_newest_first_in_pages(store) -> None:
    pen = store.add_product("Pen", stock=10)
    ids = []
    for n in range(3):
        store.put_in_cart("account-1", pen)
        ids.append(store.checkout("account-1", f"key-{n}").json()["id"])
    page = store.order.get("/orders", params={"owner": "account-1", "limit": 2}).json()
    assert ([o["id"] for o in page["items"]], page["total"], page["limit"], page["offset"]) == (ids[:0:-1], 3, 2, 0)
    assert "owner" not in page["items"][0]
    rest = store.order.get("/orders", params={"owner": "account-1", "limit": 2, "offset": 2}).json()
    assert [o["id"] for o in rest["items"]] == [ids[0]]


def test_staff_ship_and_deliver_an_order_and_each_move_is_in_its_history(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("account-1", pen)
    order_id = store.checkout("account-1", "key-1").json()["id"]
    shipped = store.order.post(
        f"/orders/{order_id}/status", json={"status": "shipped", "reason": "DHL 123"}, headers=ADMIN
    )
    assert shipped.status_code == 200
    assert shipped.json()["history"][-1]["reason"] == "DHL 123"
    store.order.post(f"/orders/{order_id}/status", json={"status": "delivered"}, headers=ADMIN)
    assert [s for s, _ in history(store, order_id, "account-1")] == ["created", "paid", "shipped", "delivered"]
    refused = store.order.post(f"/orders/{order_id}/status", json={"status": "shipped"}, headers=ADMIN)
    assert error(refused) == (409, "conflict")
    everything = store.order.get("/orders", params={"all": "true"}, headers=ADMIN).json()
    assert [(o["id"], o["owner"]) for o in everything["items"]] == [(order_id, "account-1")]


def test_a_refund_after_payment_puts_no_stock_back(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("account-1", pen, 2)
    order_id = store.checkout("account-1", "key-1").json()["id"]
    response = store.order.post(f"/orders/{order_id}/status", json={"status": "refunded"}, headers=ADMIN)
    assert response.json()["status"] == "refunded"
    assert store.stock(pen) == 3


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": "Basic x"}]
)
def test_staff_endpoints_refuse_a_missing_or_wrong_token(store, headers) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("account-1", pen)
    order_id = store.checkout("account-1", "key-1").json()["id"]
    calls = [
        ("POST", f"/orders/{order_id}/status", {"status": "shipped"}, None),
        ("POST", "/orders/claim", {"from_owner": "account-1", "to_owner": "account-2"}, None),
        ("GET", "/orders", None, {"all": "true"}),
        ("GET", f"/orders/{order_id}", None, None),
    ]
    for method, path, body, params in calls:
        response = store.order.request(method, path, json=body, params=params, headers=headers)
        assert error(response) == (401, "unauthorized"), path
    assert only_order(store, "account-1")["status"] == "paid"


def test_a_guests_orders_move_to_the_account_at_sign_in(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("guest-x", pen)
    order_id = store.checkout("guest-x", "key-1").json()["id"]
    response = store.order.post("/orders/claim", json={"from_owner": "guest-x", "to_owner": "account-7"}, headers=ADMIN)
    assert response.json() == {"moved": [order_id]}
    assert only_order(store, "account-7")["id"] == order_id
    assert store.order.get(f"/orders/{order_id}", params={"owner": "guest-x"}).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "params"),
    [
        ("/orders", {"owner": "guest a", "payment": payment(), "shipping_address": ADDRESS}, None),
        ("/orders", {"owner": "guest-a", "payment": payment("4242 4242 4242 4241"), "shipping_address": ADDRESS}, None),
        (
            "/orders",
            {"owner": "guest-a", "payment": {**payment(), "expiry": "01/20"}, "shipping_address": ADDRESS},
            None,
        ),
        ("/orders", {"owner": "guest-a", "payment": payment(), "shipping_address": {**ADDRESS, "country": "XX"}}, None),
        ("/orders", {"owner": "guest-a", "payment": payment(), "shipping_address": ADDRESS, "total": "0.01"}, None),
        ("/orders", {"owner": "x" * 65, "payment": payment(), "shipping_address": ADDRESS}, None),
    ],
)
def test_hostile_checkouts_are_422_without_echoing_the_card(store, path, body, params) -> None:
    response = store.order.post(path, json=body, params=params, headers={"Idempotency-Key": "k"})
    assert error(response) == (422, "invalid")
    assert "4242424242424241" not in response.text
    assert "4242 4242 4242 4241" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/orders", {}, 422),
        ("GET", "/orders", {"params": {"owner": "guest-a", "limit": 1000}}, 422),
        ("GET", "/orders", {"params": {"owner": "a/b"}}, 422),
        ("GET", "/orders/0", {"params": {"owner": "guest-a"}}, 422),
        ("GET", "/orders/99999999999", {"params": {"owner": "guest-a"}}, 422),
        (
            "POST",
            "/orders",
            {"content": b"{not json", "headers": {"Idempotency-Key": "k", "content-type": "application/json"}},
            400,
        ),
        ("POST", "/orders", {"json": {}, "headers": {"Idempotency-Key": "k" * 201}}, 400),
        ("POST", "/orders/1/status", {"json": {"status": "lost"}, "headers": ADMIN}, 422),
        ("POST", "/orders/1/status", {"json": {"status": "shipped"}, "headers": ADMIN}, 404),
        ("POST", "/orders/claim", {"json": {"from_owner": "guest-x"}, "headers": ADMIN}, 422),
    ],
)
def test_hostile_requests_get_4xx_with_the_error_body(store, method, path, kwargs, status) -> None:
    response = store.order.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_every_order_change_reaches_the_orders_topic(store) -> None:
    pen = store.add_product("Pen", stock=5)
    store.put_in_cart("account-1", pen)
    order_id = store.checkout("account-1", "key-1").json()["id"]
    store.order.post(f"/orders/{order_id}/status", json={"status": "shipped"}, headers=ADMIN)
    subscription = SqliteEventBus(store.data_dir / "order" / "bus.db").subscribe("orders", "test")
    seen = []
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        seen += [d.event for d in subscription.poll(timeout=0.2)]
    assert [(e.type, e.key) for e in seen] == [
        (t, str(order_id)) for t in ("OrderCreated", "OrderPaid", "OrderShipped")
    ]
    assert seen[1].data["total_amount"] == "2.50"


def test_production_refuses_to_start_without_an_admin_token(tmp_path) -> None:
    with pytest.raises(SettingsError, match="MCE_ADMIN_TOKEN"):
        create_app(OrderSettings(data_dir=tmp_path, env="production", database_url="sqlite:///x.db"))


def test_staff_see_whose_an_order_is_and_the_moves_they_may_make(tmp_path) -> None:
    with shop(tmp_path) as running:
        lamp = running.add_product("Lamp")
        running.put_in_cart("guest-a", lamp)
        order_id = running.checkout("guest-a", "k1").json()["id"]
        listed = running.order.get("/orders", params={"all": "true"}, headers=ADMIN).json()["items"]
        one = running.order.get(f"/orders/{order_id}", headers=ADMIN).json()
        shopper_view = running.order.get(f"/orders/{order_id}", params={"owner": "guest-a"}).json()
    assert listed[0]["owner"] == "guest-a" and listed[0]["staff_moves"] == ["shipped", "cancelled", "refunded"]
    assert one["staff_moves"] == ["shipped", "cancelled", "refunded"]
    assert "staff_moves" not in shopper_view and "owner" not in shopper_view


def test_no_key_fingerprint_holds_the_card_in_a_form_one_could_search_for(tmp_path) -> None:
    with shop(tmp_path) as running:
        lamp = running.add_product("Lamp")
        running.put_in_cart("guest-a", lamp)
        first = running.checkout("guest-a", "k1")
        again = running.checkout("guest-a", "k1")
        engine = create_engine(f"sqlite:///{tmp_path / 'order' / 'order.db'}")
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT fingerprint, body FROM idempotency_keys")).all()
        engine.dispose()
    body = {"owner": "guest-a", "payment": payment(), "shipping_address": ADDRESS}
    plain = idempotency.fingerprint("POST", "/orders", body)
    assert first.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert [row.fingerprint for row in stored] != [plain]
    assert payment()["card_number"].replace(" ", "") not in stored[0].body.decode()
