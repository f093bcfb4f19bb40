"""The order store and its use cases over the unit of work, written once and run on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from mce.kit.errors import Conflict, Invalid, NotFound
from mce.kit.events import Event
from mce.services.order import usecases
from mce.services.order.domain import Order, OrderLine
from mce.services.order.lifecycle import Status
from mce.services.order.payment import PaymentResult
from mce.services.order.store.sql import OrderUnitOfWork, SqlOrderQueries
from mce.services.order.store.tables import MIGRATIONS, outbox
from tests.dbs import engine_fixtures

TABLES = "order_status_history, order_items, orders, outbox, idempotency_keys"
ADDRESS = {"name": "Ada", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}
Uow = Callable[[], OrderUnitOfWork]


postgres_engine, engine = engine_fixtures(MIGRATIONS, TABLES)


@pytest.fixture
def uow(engine: Engine) -> Uow:
    return lambda: OrderUnitOfWork(engine)


@pytest.fixture
def queries(engine: Engine) -> SqlOrderQueries:
    return SqlOrderQueries(engine)


LINES = (OrderLine(7, "Pen", 3, Decimal("0.00")), OrderLine(9, "Pad", 1, Decimal("0.00")))
PRICED = (OrderLine(7, "Pen", 3, Decimal("0.10")), OrderLine(9, "Pad", 1, Decimal("19.90")))
APPROVED = PaymentResult(True, None, "pay_1", Decimal("20.20"), "visa", "4242")


def create(uow: Uow, owner: str = "guest-a") -> Order:
    with uow() as work:
        return usecases.create_order(work, owner=owner, items=LINES, shipping_address=ADDRESS)


def paid(uow: Uow, owner: str = "guest-a") -> Order:
    order = create(uow, owner)
    with uow() as work:
        return usecases.mark_paid(work, order_id=order.id, items=PRICED, total=Decimal("20.20"), payment=APPROVED)


def staged(engine: Engine) -> list[Event]:
    with engine.connect() as conn:
        return [Event.from_bytes(p) for p in conn.execute(select(outbox.c.payload).order_by(outbox.c.id)).scalars()]


def test_a_new_order_is_created_with_its_lines_history_and_event(uow, queries, engine) -> None:
    order = create(uow)
    stored = queries.get(order.id)
    assert (stored.owner, stored.status, stored.items, stored.shipping_address) == (
        "guest-a",
        Status.CREATED,
        LINES,
        ADDRESS,
    )
    assert [entry.status for entry in stored.history] == [Status.CREATED]
    assert [(e.type, e.key, e.data["status"]) for e in staged(engine)] == [("OrderCreated", str(order.id), "created")]


def test_a_paid_order_keeps_the_prices_charged_the_card_summary_and_its_history(uow, queries, engine) -> None:
    order = paid(uow)
    stored = queries.get(order.id)
    assert stored.items == PRICED
    assert stored.total_amount == Decimal("20.20")
    assert (stored.payment_brand, stored.payment_last4) == ("visa", "4242")
    assert [entry.status for entry in stored.history] == [Status.CREATED, Status.PAID]
    assert stored.history[1].at >= stored.history[0].at
    event = staged(engine)[-1]
    assert (event.type, event.data["total_amount"], event.data["previous_status"]) == ("OrderPaid", "20.20", "created")
    assert order.to_json()["items"][1] == {"product_id": 9, "name": "Pad", "quantity": 1, "price": "19.90"}


def test_a_cancelled_order_keeps_its_reason(uow, queries, engine) -> None:
    order = create(uow)
    with uow() as work:
        usecases.cancel_order(work, order_id=order.id, reason="out of stock: product 7")
    history = queries.get(order.id).history
    assert (history[-1].status, history[-1].reason) == (Status.CANCELLED, "out of stock: product 7")
    assert staged(engine)[-1].data["reason"] == "out of stock: product 7"


def test_staff_move_a_paid_order_to_shipped_then_delivered_each_with_an_event(uow, queries, engine) -> None:
    order = paid(uow)
    for status in ("shipped", "delivered"):
        with uow() as work:
            usecases.change_status(work, order_id=order.id, to=status)
    assert [e.status for e in queries.get(order.id).history] == ["created", "paid", "shipped", "delivered"]
    assert [e.type for e in staged(engine)][-2:] == ["OrderShipped", "OrderDelivered"]


@pytest.mark.parametrize(
    ("setup", "to"), [("paid", "delivered"), ("paid", "created"), ("created", "paid"), ("created", "shipped")]
)
def test_a_move_staff_may_not_make_is_a_conflict_and_changes_nothing(uow, queries, engine, setup, to) -> None:
    order = paid(uow) if setup == "paid" else create(uow)
    before = len(staged(engine))
    with pytest.raises(Conflict), uow() as work:
        usecases.change_status(work, order_id=order.id, to=to)
    assert queries.get(order.id).status == setup
    assert len(staged(engine)) == before


def test_an_unknown_status_is_invalid_and_an_unknown_order_not_found(uow) -> None:
    order = paid(uow)
    with pytest.raises(Invalid), uow() as work:
        usecases.change_status(work, order_id=order.id, to="lost")
    with pytest.raises(NotFound), uow() as work:
        usecases.change_status(work, order_id=999, to="shipped")


def test_a_failed_unit_of_work_leaves_no_order_and_no_event(uow, queries, engine) -> None:
    with pytest.raises(RuntimeError), uow() as work:
        usecases.create_order(work, owner="guest-a", items=LINES, shipping_address=ADDRESS)
        raise RuntimeError("crash before commit")
    assert queries.page(owner=None, limit=10, offset=0) == ([], 0)
    assert staged(engine) == []


def test_an_owner_reads_only_their_own_orders_newest_first_in_pages(uow, queries) -> None:
    mine = [create(uow, "account-1").id for _ in range(3)]
    create(uow, "account-2")
    orders, total = queries.page(owner="account-1", limit=2, offset=0)
    assert ([o.id for o in orders], total) == ([mine[2], mine[1]], 3)
    orders, _ = queries.page(owner="account-1", limit=2, offset=2)
    assert [o.id for o in orders] == [mine[0]]
    assert queries.page(owner=None, limit=10, offset=0)[1] == 4


def test_another_owners_order_is_not_found_like_a_missing_one(uow, queries) -> None:
    order = create(uow, "account-1")
    assert usecases.owners_order(queries, order_id=order.id, owner="account-1").id == order.id
    for owner, order_id in (("account-2", order.id), ("account-1", order.id + 1)):
        with pytest.raises(NotFound) as missing:
            usecases.owners_order(queries, order_id=order_id, owner=owner)
        assert missing.value.message == f"order {order_id} not found"


def test_a_guests_orders_move_to_the_account_once(uow, queries, engine) -> None:
    guest = [create(uow, "guest-x").id for _ in range(2)]
    create(uow, "guest-y")
    with uow() as work:
        assert usecases.claim_orders(work, from_owner="guest-x", to_owner="account-7") == guest
    with uow() as work:
        assert usecases.claim_orders(work, from_owner="guest-x", to_owner="account-7") == []
    assert [o.id for o in queries.page(owner="account-7", limit=10, offset=0)[0]] == guest[::-1]
    assert queries.page(owner="guest-x", limit=10, offset=0)[1] == 0
    assert [e.type for e in staged(engine)].count("OrderClaimed") == 2


def test_idempotency_keys_are_scoped_by_owner(uow) -> None:
    with uow() as work:
        assert work.claim_key(scope="guest-a", key="k", fingerprint="f") is None
        work.record_key(scope="guest-a", key="k", status=201, body=b"{}", location="/orders/1")
    with uow() as work:
        assert work.claim_key(scope="guest-b", key="k", fingerprint="g") is None
        assert work.claim_key(scope="guest-a", key="k", fingerprint="f").location == "/orders/1"
