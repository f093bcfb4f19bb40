"""Stock comes back when an order ends before its parcel left, once, even when product was down at the time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import ORDERS_TOPIC
from mce.kit.events import Event
from mce.kit.http import NotSent
from mce.services.order.restock import reservation_to_release
from tests.inprocess import ADMIN, ClientTransport, Shop, shop

STOCK = 10


class SwitchableTransport:
    """The real product service, or a refused connection while `down` is set."""

    def __init__(self) -> None:
        self.target: ClientTransport | None = None
        self.down = False

    async def send(self, method: str, url: str, **kwargs: Any) -> Any:
        if self.down or self.target is None:
            raise NotSent("connection refused")
        return await self.target.send(method, url, **kwargs)

    async def aclose(self) -> None:
        return None


@pytest.fixture
def product_link() -> SwitchableTransport:
    return SwitchableTransport()


@pytest.fixture
def store(tmp_path: Path, product_link: SwitchableTransport) -> Iterator[Shop]:
    with shop(tmp_path, order_product=product_link) as running:
        product_link.target = ClientTransport(running.product)
        yield running


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.05)


def paid_order(store: Shop, owner: str, product_id: int, quantity: int = 3) -> int:
    store.put_in_cart(owner, product_id, quantity)
    placed = store.checkout(owner, f"key-{owner}")
    assert placed.status_code == 201, placed.text
    assert store.stock(product_id) == STOCK - quantity
    return placed.json()["id"]


def move(store: Shop, order_id: int, status: str) -> None:
    response = store.order.post(f"/orders/{order_id}/status", json={"status": status}, headers=ADMIN)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("ending", ["cancelled", "refunded"])
def test_a_paid_order_cancelled_or_refunded_by_staff_puts_its_stock_back(store: Shop, ending: str) -> None:
    lamp = store.add_product("Lamp", stock=STOCK)
    order_id = paid_order(store, "shopper-1", lamp)
    move(store, order_id, ending)
    eventually(lambda: store.stock(lamp) == STOCK)


def test_a_refund_after_shipping_leaves_stock_alone_since_the_goods_left(store: Shop) -> None:
    lamp = store.add_product("Lamp", stock=STOCK)
    shipped = paid_order(store, "shopper-1", lamp)
    move(store, shipped, "shipped")
    move(store, shipped, "refunded")
    # A later cancel of another order is the marker: once its stock is back, the refund's event was handled too.
    other = paid_order(store, "shopper-2", store.add_product("Pen", stock=STOCK))
    move(store, other, "cancelled")
    eventually(lambda: store.order.app.state.restocker.released == 1)
    assert store.stock(lamp) == STOCK - 3


def test_the_same_cancellation_delivered_twice_puts_stock_back_once(store: Shop) -> None:
    lamp = store.add_product("Lamp", stock=STOCK)
    order_id = paid_order(store, "shopper-1", lamp)
    move(store, order_id, "cancelled")
    eventually(lambda: store.stock(lamp) == STOCK)
    bus = SqliteEventBus(store.data_dir / "order" / "bus.db")
    try:
        events = [d.event for d in bus.subscribe(ORDERS_TOPIC, "test-reader").poll(1000, timeout=1) if d.event]
        cancelled = [event for event in events if event.type == "OrderCancelled"]
        bus.publish(ORDERS_TOPIC, cancelled)  # the very events again, as a redelivery would bring them
    finally:
        bus.close()
    eventually(lambda: store.order.app.state.restocker.released == 2)
    assert store.stock(lamp) == STOCK


def test_stock_comes_back_once_product_answers_again(store: Shop, product_link: SwitchableTransport) -> None:
    lamp = store.add_product("Lamp", stock=STOCK)
    order_id = paid_order(store, "shopper-1", lamp)
    product_link.down = True
    move(store, order_id, "cancelled")
    time.sleep(1.0)  # the consumer meets product down and keeps the event for another try
    assert store.stock(lamp) == STOCK - 3
    product_link.down = False
    eventually(lambda: store.stock(lamp) == STOCK, timeout=20)


def test_a_declined_payment_releases_its_reservation_even_when_product_was_down_at_the_time(
    store: Shop, product_link: SwitchableTransport
) -> None:
    lamp = store.add_product("Lamp", stock=STOCK)
    store.put_in_cart("shopper-1", lamp, 2)

    # Product goes down right after the reservation: checkout's own release fails and is only logged.
    real = product_link.target
    assert real is not None

    class DownAfterReserve(ClientTransport):
        async def send(self, method: str, url: str, **kwargs: Any) -> Any:
            if url.endswith("/release"):
                raise NotSent("connection refused")
            return await real.send(method, url, **kwargs)

    product_link.target = DownAfterReserve(store.product)
    declined = store.checkout("shopper-1", "key-declined", card_number="4000000000000002")
    assert declined.status_code == 402, declined.text
    assert store.stock(lamp) == STOCK - 2
    product_link.target = real
    eventually(lambda: store.stock(lamp) == STOCK, timeout=20)


@pytest.mark.parametrize(
    ("kind", "previous", "expected"),
    [
        ("OrderCancelled", "created", "order-7"),
        ("OrderCancelled", "paid", "order-7"),
        ("OrderRefunded", "paid", "order-7"),
        ("OrderRefunded", "shipped", None),
        ("OrderRefunded", "delivered", None),
        ("OrderShipped", "paid", None),
        ("OrderPaid", "created", None),
    ],
)
def test_only_orders_that_ended_before_shipping_free_their_reservation(kind: str, previous: str, expected) -> None:
    event = Event(type=kind, key="7", data={"order_id": 7, "previous_status": previous, "status": "x"})
    assert reservation_to_release(event) == expected
