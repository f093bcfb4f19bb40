"""Orders on SQLAlchemy: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType

import orjson
from sqlalchemy import Engine, Row, func, insert, select, text, update
from sqlalchemy.engine import Connection

from mce.kit.db import translated_errors
from mce.kit.errors import Conflict, NotFound
from mce.kit.uow import SqlUnitOfWork
from mce.services.order.domain import HistoryEntry, Order, OrderLine
from mce.services.order.lifecycle import Status, StatusChange
from mce.services.order.store.port import OrderQueries, OrderRepository
from mce.services.order.store.tables import idempotency_keys, order_items, order_status_history, orders, outbox

WHAT = "order database"


def _load(conn: Connection, rows: Sequence[Row]) -> list[Order]:
    """Orders from their rows, with their lines and history read in two queries for all of them."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    lines: dict[int, list[OrderLine]] = {i: [] for i in ids}
    for item in conn.execute(
        select(order_items).where(order_items.c.order_id.in_(ids)).order_by(order_items.c.order_id, order_items.c.line)
    ):
        lines[item.order_id].append(OrderLine(item.product_id, item.name, item.quantity, item.price))
    history: dict[int, list[HistoryEntry]] = {i: [] for i in ids}
    h = order_status_history.c
    for entry in conn.execute(select(order_status_history).where(h.order_id.in_(ids)).order_by(h.order_id, h.id)):
        history[entry.order_id].append(HistoryEntry(Status(entry.status), entry.at, entry.reason))
    return [
        Order(
            id=row.id,
            owner=row.owner,
            status=Status(row.status),
            items=tuple(lines[row.id]),
            total_amount=row.total_amount,
            created_at=row.created_at,
            shipping_address=orjson.loads(row.shipping_address),
            payment_brand=row.payment_brand,
            payment_last4=row.payment_last4,
            history=tuple(history[row.id]),
        )
        for row in rows
    ]


def _one(conn: Connection, order_id: int, *, lock: bool = False) -> Order:
    query = select(orders).where(orders.c.id == order_id)
    if lock:
        # On PostgreSQL two status changes of one order queue here; SQLite has one writer at a time anyway.
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"order {order_id} not found")
    return _load(conn, [row])[0]


class SqlOrderRepository(OrderRepository):
    """Orders on one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self, *, owner: str, items: Sequence[OrderLine], total: Decimal, shipping_address: dict[str, str], now: datetime
    ) -> Order:
        order_id = self.conn.execute(
            insert(orders)
            .values(
                owner=owner,
                status=Status.CREATED.value,
                total_amount=total,
                shipping_address=orjson.dumps(shipping_address).decode(),
                created_at=now,
                updated_at=now,
            )
            .returning(orders.c.id)
        ).scalar_one()
        self.conn.execute(
            insert(order_items),
            [
                {
                    "order_id": order_id,
                    "line": line_no,
                    "product_id": line.product_id,
                    "name": line.name,
                    "quantity": line.quantity,
                    "price": line.price,
                }
                for line_no, line in enumerate(items)
            ],
        )
        self.conn.execute(insert(order_status_history).values(order_id=order_id, status=Status.CREATED.value, at=now))
        return _one(self.conn, order_id)

    def get(self, order_id: int, *, lock: bool = False) -> Order:
        return _one(self.conn, order_id, lock=lock)

    def set_prices(self, order_id: int, items: Sequence[OrderLine], total: Decimal) -> None:
        for line_no, line in enumerate(items):
            self.conn.execute(
                update(order_items)
                .where(order_items.c.order_id == order_id, order_items.c.line == line_no)
                .values(price=line.price, name=line.name)
            )
        self.conn.execute(update(orders).where(orders.c.id == order_id).values(total_amount=total))

    def set_payment(self, order_id: int, *, brand: str, last4: str, reference: str) -> None:
        self.conn.execute(
            update(orders)
            .where(orders.c.id == order_id)
            .values(payment_brand=brand, payment_last4=last4, payment_reference=reference)
        )

    def move(self, order_id: int, change: StatusChange) -> Order:
        # Conditional on the status the change was made from: a concurrent move cannot be overwritten.
        moved = self.conn.execute(
            update(orders)
            .where(orders.c.id == order_id, orders.c.status == change.from_status.value)
            .values(status=change.to_status.value, updated_at=change.at)
            .returning(orders.c.id)
        ).first()
        if moved is None:
            raise Conflict(f"order {order_id} is no longer {change.from_status}; reload it")
        self.conn.execute(
            insert(order_status_history).values(
                order_id=order_id, status=change.to_status.value, at=change.at, reason=change.reason
            )
        )
        return _one(self.conn, order_id)

    def reassign(self, from_owner: str, to_owner: str) -> list[int]:
        ids = list(
            self.conn.execute(select(orders.c.id).where(orders.c.owner == from_owner).order_by(orders.c.id)).scalars()
        )
        if ids:
            self.conn.execute(
                update(orders).where(orders.c.id.in_(ids)).values(owner=to_owner, updated_at=datetime.now(UTC))
            )
        return ids


# A status change: the status left (None for a new order) and the status reached.
Move = tuple[str | None, str]


class OrderUnitOfWork(SqlUnitOfWork):
    """The order database's unit of work: orders, outbox and idempotency keys in one transaction."""

    orders: SqlOrderRepository

    def __init__(
        self,
        engine: Engine,
        *,
        on_commit: Callable[[], None] = lambda: None,
        on_moves: Callable[[Sequence[Move]], None] = lambda moves: None,
    ) -> None:
        super().__init__(engine, what=WHAT, outbox=outbox, idempotency_table=idempotency_keys, on_commit=on_commit)
        self.on_moves = on_moves
        self._moves: list[Move] = []

    def _open(self, conn: Connection) -> None:
        self.orders = SqlOrderRepository(conn)
        self._moves = []

    def moved(self, from_status: str | None, to_status: str) -> None:
        """Note a status change made in this unit of work; on_moves hears of it once the work commits."""
        self._moves.append((from_status, to_status))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        # Reached only when the work committed (a failed commit raises above): rolled-back moves are not counted.
        if exc is None and self._moves:
            moves, self._moves = self._moves, []
            self.on_moves(moves)


class SqlOrderQueries(OrderQueries):
    """Reads on pooled connections; each read sees one committed state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, order_id: int) -> Order:
        with translated_errors(WHAT), self.engine.connect() as conn:
            return _one(conn, order_id)

    def page(self, *, owner: str | None, limit: int, offset: int) -> tuple[list[Order], int]:
        rows = select(orders).order_by(orders.c.id.desc()).limit(limit).offset(offset)
        total = select(func.count()).select_from(orders)
        if owner is not None:
            rows, total = rows.where(orders.c.owner == owner), total.where(orders.c.owner == owner)
        with translated_errors(WHAT), self.engine.connect() as conn, conn.begin():
            # One transaction, so the page and its count describe the same moment.
            return _load(conn, conn.execute(rows).all()), conn.execute(total).scalar_one()

    def ping(self) -> None:
        with translated_errors(WHAT), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
