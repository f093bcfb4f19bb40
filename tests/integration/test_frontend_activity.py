"""The storefront's activity events: each of the four kinds, who they are attributed to, and shopping without a bus."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from frontend_fakes import FakeCatalog, FakeSearch, cart_service, frontend_client

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import USER_ACTIVITY, USER_EVENTS_TOPIC, ActivityPayload
from mce.kit.events import Event
from tests.fakes.bus import DownBus, StuckBus
from tests.inprocess import ADDRESS, ClientTransport, payment, shop

SHOPPER = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}
BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Desk Lamp", price="12.50", stock=5)
    catalog.add("Fountain Pen", price="3.20", stock=50)
    return catalog


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[SqliteEventBus]:
    log = SqliteEventBus(tmp_path / "bus" / "bus.db")
    yield log
    log.close()


def published(bus: SqliteEventBus) -> list[Event]:
    """Every event on the user-events topic, in order (read after the frontend shut down, so all are flushed)."""
    subscription = bus.subscribe(USER_EVENTS_TOPIC, f"reader-{time.monotonic_ns()}")
    events: list[Event] = []
    while batch := subscription.poll(1000, timeout=0.05):
        events += [delivery.event for delivery in batch if delivery.event is not None]
    subscription.close()
    return events


def payloads(bus: SqliteEventBus) -> list[ActivityPayload]:
    events = published(bus)
    assert all(event.type == USER_ACTIVITY and event.key == event.data["user_id"] for event in events)
    return [ActivityPayload.model_validate(event.data) for event in events]


@contextmanager
def storefront(tmp_path: Path, catalog: FakeCatalog, bus, **kwargs) -> Iterator[TestClient]:
    """A frontend with the real cart service and the fake catalog and search, publishing activity on `bus`."""
    with (
        cart_service(tmp_path, catalog) as carts,
        frontend_client(
            tmp_path / "frontend", catalog, search=FakeSearch(catalog), cart_transport=carts, bus=bus, **kwargs
        ) as client,
    ):
        client.headers.update(BROWSER)
        yield client


def test_a_visitor_viewing_and_searching_is_recorded_under_a_daily_hash_not_their_address(
    tmp_path, catalog, bus
) -> None:
    before = int(time.time())
    with storefront(tmp_path, catalog, bus) as client:
        assert client.get("/products/1").status_code == 200
        assert client.get("/api/products/2").status_code == 200
        assert client.get("/search", params={"q": "  lamp  "}).status_code == 200
        assert client.get("/api/search", params={"q": "pen"}).status_code == 200
        assert "set-cookie" not in client.get("/products/2").headers
    after = int(time.time())
    events = payloads(bus)
    assert [(e.event_type, e.product_id) for e in events] == [
        ("view_product", "1"),
        ("view_product", "2"),
        ("search", None),
        ("search", None),
        ("view_product", "2"),
    ]
    assert [e.metadata for e in events if e.event_type == "search"] == [{"query": "lamp"}, {"query": "pen"}]
    assert len({e.user_id for e in events}) == 1
    assert re.fullmatch(r"visitor-[0-9a-f]{24}", events[0].user_id)
    assert "testclient" not in events[0].user_id
    assert all(isinstance(e.timestamp, int) and before <= e.timestamp <= after for e in events)


def test_a_guest_who_adds_to_the_cart_keeps_one_pseudonym_that_is_not_their_session(tmp_path, catalog, bus) -> None:
    with storefront(tmp_path, catalog, bus) as client:
        added = client.post("/api/cart/items", json={"product_id": 1, "quantity": 2})
        token = client.cookies.get("mce_session")
        client.get("/api/products/1")
        client.get("/products/2")
        refused = client.post("/api/cart/items", json={"product_id": 1, "quantity": 9})
    assert added.status_code == 201 and refused.status_code == 409
    events = payloads(bus)
    assert [(e.event_type, e.product_id, e.metadata) for e in events] == [
        ("add_to_cart", "1", {"quantity": 2}),
        ("view_product", "1", {}),
        ("view_product", "2", {}),
    ]
    assert len({e.user_id for e in events}) == 1
    guest = events[0].user_id
    assert re.fullmatch(r"session-[0-9a-f]{24}", guest)
    assert token and token not in guest


def test_a_signed_in_shopper_is_their_account_on_pages_and_the_catalog_fast_path(tmp_path, catalog, bus) -> None:
    with storefront(tmp_path, catalog, bus) as client:
        assert client.post("/api/accounts", json=SHOPPER).status_code == 201
        account_id = client.app.state.accounts.find("ada@example.com").id
        client.get("/api/products/1")
        client.get("/products/1")
        client.post("/api/cart/items", json={"product_id": 2})
    assert [(e.user_id, e.event_type) for e in payloads(bus)] == [
        (f"account-{account_id}", "view_product"),
        (f"account-{account_id}", "view_product"),
        (f"account-{account_id}", "add_to_cart"),
    ]


def test_the_cart_form_records_a_successful_add_only(tmp_path, catalog, bus) -> None:
    with storefront(tmp_path, catalog, bus) as client:
        form = {"product_id": "2", "quantity": "3"}
        origin = {"origin": "http://testserver"}
        assert client.post("/cart/items", data=form, headers=origin, follow_redirects=False).status_code == 303
        client.post("/cart/items", data={"product_id": "2", "quantity": "0"}, headers=origin, follow_redirects=False)
    assert [(e.event_type, e.product_id, e.metadata) for e in payloads(bus)] == [("add_to_cart", "2", {"quantity": 3})]


def test_misses_bots_probes_and_admin_pages_are_not_activity(tmp_path, catalog, bus) -> None:
    with storefront(tmp_path, catalog, bus) as client:
        assert client.get("/api/products/999").status_code == 404
        assert client.get("/products/999").status_code == 404
        client.get("/search")
        client.get("/api/search")
        client.get("/healthz")
        client.get("/readyz")
        client.get("/admin/login")
        client.get("/products/1", headers={"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
        client.get("/api/products/1", headers={"user-agent": "kube-probe/1.30"})
    assert payloads(bus) == []


def test_switched_off_it_publishes_nothing(tmp_path, catalog, bus) -> None:
    with storefront(tmp_path, catalog, bus, activity_events=False) as client:
        client.get("/products/1")
        client.post("/api/cart/items", json={"product_id": 1})
    assert payloads(bus) == []


def test_a_purchase_is_recorded_once_with_its_order_and_total(tmp_path, bus) -> None:
    checkout = {"payment": payment(), "shipping_address": ADDRESS}
    with (
        shop(tmp_path) as services,
        frontend_client(
            tmp_path / "frontend",
            FakeCatalog(),
            product_transport=ClientTransport(services.product),
            cart_transport=ClientTransport(services.cart),
            order_transport=ClientTransport(services.order),
            bus=bus,
        ) as client,
    ):
        lamp = services.add_product("Lamp", price="12.50", stock=5)
        client.post("/api/cart/items", json={"product_id": lamp, "quantity": 2})
        placed = client.post("/api/orders", json=checkout, headers={"Idempotency-Key": "k-1"})
        replayed = client.post("/api/orders", json=checkout, headers={"Idempotency-Key": "k-1"})
    assert placed.status_code == 201 and replayed.headers.get("idempotent-replayed") == "true"
    events = payloads(bus)
    assert [e.event_type for e in events] == ["add_to_cart", "purchase"]
    purchase = events[1]
    assert purchase.metadata == {"order_id": placed.json()["id"], "total": "25.00"}
    assert purchase.product_id is None and purchase.user_id == events[0].user_id


def test_shopping_goes_on_while_the_bus_is_down_and_the_loss_is_counted(tmp_path, catalog) -> None:
    down = DownBus()
    with storefront(tmp_path, catalog, down) as client:
        answers = [client.get("/products/1").status_code for _ in range(5)]
        answers.append(client.post("/api/cart/items", json={"product_id": 1}).status_code)
    assert answers == [200] * 5 + [201]
    assert down.attempts >= 1
    assert dropped(client, "bus_error") == 6 and dropped(client, "queue_full") == 0


def test_a_bus_that_hangs_costs_shoppers_nothing_and_shutdown_does_not_wait_for_it(tmp_path, catalog) -> None:
    stuck = StuckBus()
    try:
        with storefront(tmp_path, catalog, stuck, activity_queue_size=3) as client:
            client.get("/products/1")
            assert stuck.entered.wait(5)
            started = time.monotonic()
            answers = [client.get("/products/2").status_code for _ in range(10)]
            took = time.monotonic() - started
            closing = time.monotonic()
        shutdown = time.monotonic() - closing
    finally:
        stuck.release()
    assert answers == [200] * 10 and took < 5
    # One event hangs in the bus, three wait in the queue until shutdown gives up on them, seven found it full.
    assert dropped(client, "queue_full") == 7 and dropped(client, "shutdown") == 3
    assert shutdown < 5


def dropped(client: TestClient, reason: str) -> float:
    """The frontend's count of activity events lost for a reason."""
    registry = client.app.state.metrics.registry
    return registry.get_sample_value("activity_events_dropped_total", {"service": "frontend", "reason": reason}) or 0
