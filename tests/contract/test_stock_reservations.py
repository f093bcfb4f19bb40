"""Batch stock reservations over the product unit of work, written once and run on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from mce.kit.errors import Conflict, OutOfStock
from mce.kit.events import Event
from mce.services.product import usecases
from mce.services.product.domain import ProductFields
from mce.services.product.store.sql import ProductUnitOfWork
from mce.services.product.store.tables import MIGRATIONS, outbox
from tests.dbs import engine_fixtures

TABLES = "products, categories, outbox, stock_movements, idempotency_keys"
Uow = Callable[[], ProductUnitOfWork]


postgres_engine, engine = engine_fixtures(MIGRATIONS, TABLES)


@pytest.fixture
def uow(engine: Engine) -> Uow:
    with ProductUnitOfWork(engine) as work:
        usecases.create_category(work, name="Office")
    return lambda: ProductUnitOfWork(engine)


def product(uow: Uow, name: str, *, price: str = "2.50", stock: int = 5) -> int:
    fields = ProductFields(name=name, description="", price=Decimal(price), stock=stock, category="Office")
    with uow() as work:
        return usecases.create_product(work, fields=fields).id


def stock(uow: Uow, product_id: int) -> int:
    with uow() as work:
        return work.products.get(product_id).stock


def reserve(uow: Uow, reference: str, *items: tuple[int, int]) -> list[tuple[int, str, int, Decimal]]:
    with uow() as work:
        reserved = usecases.reserve_stock(work, reference=reference, items=items)
    return [(p.id, p.name, quantity, p.price) for p, quantity in reserved]


def release(uow: Uow, reference: str) -> list[tuple[int, int]]:
    with uow() as work:
        return usecases.release_stock(work, reference=reference)


def stock_events(engine: Engine) -> list[Event]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload).order_by(outbox.c.id)).scalars()
        return [e for e in map(Event.from_bytes, rows) if e.type == "ProductUpdated"]


def test_a_reservation_takes_every_line_and_answers_the_names_and_prices_it_read(uow) -> None:
    pen, pad = product(uow, "Pen", price="0.10", stock=5), product(uow, "Pad", price="3.00", stock=2)
    assert reserve(uow, "order-1", (pad, 2), (pen, 3)) == [
        (pad, "Pad", 2, Decimal("3.00")),
        (pen, "Pen", 3, Decimal("0.10")),
    ]
    assert (stock(uow, pen), stock(uow, pad)) == (2, 0)


def test_a_short_line_reserves_nothing_and_names_the_product(uow) -> None:
    pen, pad = product(uow, "Pen", stock=5), product(uow, "Pad", stock=1)
    with pytest.raises(OutOfStock) as refused:
        reserve(uow, "order-1", (pen, 3), (pad, 2))
    assert refused.value.details == [{"field": "items.1.product_id", "message": f"product {pad}: 1 in stock, 2 wanted"}]
    assert str(pad) in refused.value.message
    assert (stock(uow, pen), stock(uow, pad)) == (5, 1)


def test_an_unknown_product_reserves_nothing(uow) -> None:
    pen = product(uow, "Pen", stock=5)
    with pytest.raises(OutOfStock) as refused:
        reserve(uow, "order-1", (pen, 1), (999, 1))
    assert refused.value.details[0]["field"] == "items.1.product_id"
    assert stock(uow, pen) == 5


def test_a_repeated_reference_is_applied_once(uow, engine) -> None:
    pen = product(uow, "Pen", stock=5)
    first = reserve(uow, "order-1", (pen, 2))
    assert reserve(uow, "order-1", (pen, 2)) == first
    assert stock(uow, pen) == 3
    assert [e.data["stock"] for e in stock_events(engine)] == [3]


def test_a_release_puts_back_exactly_what_the_reference_took_once(uow, engine) -> None:
    pen, pad = product(uow, "Pen", stock=5), product(uow, "Pad", stock=4)
    reserve(uow, "order-1", (pen, 2), (pad, 1))
    reserve(uow, "order-2", (pen, 1))
    assert release(uow, "order-1") == [(pen, 2), (pad, 1)]
    assert release(uow, "order-1") == []
    assert (stock(uow, pen), stock(uow, pad)) == (4, 4)
    assert [e.data["stock"] for e in stock_events(engine)][-2:] == [4, 4]


def test_releasing_an_unknown_reference_changes_nothing_and_it_cannot_reserve_afterwards(uow) -> None:
    pen = product(uow, "Pen", stock=5)
    assert release(uow, "order-9") == []
    # A reservation whose answer was lost arrives after its order gave up and released it: it must take nothing.
    with pytest.raises(Conflict):
        reserve(uow, "order-9", (pen, 1))
    assert stock(uow, pen) == 5


def test_a_reference_that_shares_a_prefix_is_not_released_with_another(uow) -> None:
    pen = product(uow, "Pen", stock=10)
    reserve(uow, "order-1", (pen, 1))
    reserve(uow, "order-1_2", (pen, 2))
    assert release(uow, "order-1") == [(pen, 1)]
    assert stock(uow, pen) == 8


def test_concurrent_reservations_never_take_more_than_the_stock(uow) -> None:
    pen, pad = product(uow, "Pen", stock=10), product(uow, "Pad", stock=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def shopper(n: int) -> None:
        # Lines in both orders, so reservations lock the same products from opposite ends.
        items = ((pen, 1), (pad, 1)) if n % 2 else ((pad, 1), (pen, 1))
        try:
            reserve(uow, f"order-{n}", *items)
            outcome = "reserved"
        except OutOfStock:
            outcome = "short"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["reserved"] * 10 + ["short"] * 20
    assert (stock(uow, pen), stock(uow, pad)) == (0, 0)
