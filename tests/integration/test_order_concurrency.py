"""Checkout under contention, with the real product and cart services in-process: never oversold, never twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mce.kit.bus.sqlite import SqliteEventBus
from tests.inprocess import ADMIN, Shop, shop

# Every test here finishes in well under this on two busy cores; past it, something hangs.
DEADLINE_S = 240


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Shop]:
    with shop(tmp_path) as running:
        yield running


def at_once(count: int, call: Callable[[int], Any], *, workers: int = 64) -> list[Any]:
    """Run call(0..count-1) on many threads released together; every call must finish within the deadline."""
    start = threading.Barrier(min(count, workers))

    def run(n: int) -> Any:
        if n < workers:
            start.wait(DEADLINE_S)
        return call(n)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, n) for n in range(count)]
        return [future.result(timeout=DEADLINE_S) for future in futures]


def test_200_shoppers_racing_for_50_items_buy_exactly_50_and_the_rest_hear_out_of_stock(store) -> None:
    pen = store.add_product("Pen", stock=50)
    owners = [f"guest-{n}" for n in range(200)]
    for owner in owners:
        store.put_in_cart(owner, pen)
    lowest = [50]
    watching = threading.Event()

    def watch() -> None:
        # Stock read over and over while the race runs: it must never be seen below zero.
        while not watching.is_set():
            lowest[0] = min(lowest[0], store.stock(pen))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        answers = at_once(200, lambda n: store.checkout(owners[n], f"key-{n}"))
    finally:
        watching.set()
        watcher.join(DEADLINE_S)
    outcomes = Counter(
        "paid" if a.status_code == 201 else f"{a.status_code} {a.json()['error']['code']}" for a in answers
    )
    assert outcomes == {"paid": 50, "409 out_of_stock": 150}
    assert store.stock(pen) == 0
    assert lowest[0] >= 0
    everything = store.order.get("/orders", params={"all": "true", "limit": 100}, headers=ADMIN).json()
    assert everything["total"] == 200
    statuses = Counter()
    for offset in (0, 100):
        page = store.order.get("/orders", params={"all": "true", "limit": 100, "offset": offset}, headers=ADMIN)
        statuses.update(order["status"] for order in page.json()["items"])
    assert statuses == {"paid": 50, "cancelled": 150}


def test_50_identical_requests_with_one_key_make_one_order(store, tmp_path: Path) -> None:
    pen = store.add_product("Pen", stock=10)
    store.put_in_cart("guest-a", pen, 2)
    answers = at_once(50, lambda n: store.checkout("guest-a", "the-one-key"), workers=50)
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}
    assert statuses[201] >= 1
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "conflict"
            assert "still running" in answer.json()["error"]["message"]
    assert store.order.get("/orders", params={"owner": "guest-a"}).json()["total"] == 1
    assert store.stock(pen) == 8
    # A retry after the race gets the one order too.
    assert store.checkout("guest-a", "the-one-key").json()["id"] in created
    subscription = SqliteEventBus(tmp_path / "order" / "bus.db").subscribe("orders", "test")
    types: list[str] = []
    for _ in range(50):
        types += [d.event.type for d in subscription.poll(timeout=0.1)]
        if len(types) >= 2:
            break
    assert types == ["OrderCreated", "OrderPaid"]
