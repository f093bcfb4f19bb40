"""Carts on SQLAlchemy (SQLite embedded, PostgreSQL too): a document row per cart, written by conditional SQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache

import orjson
from sqlalchemy import Engine, bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError

from mce.kit.db import driver_cursor, translated_errors, write_transaction
from mce.kit.errors import problem
from mce.kit.events import Event
from mce.kit.outbox import add_to_outbox
from mce.services.cart.domain import CARTS_TOPIC, Cart, StaleVersion
from mce.services.cart.store.port import CartStore
from mce.services.cart.store.tables import carts, outbox

WHAT = "cart database"

# Built once, values bound at execution: building them per call (and SQLAlchemy's cache key for each) was about a
# tenth of the cart's CPU per add.
_GET = select(carts.c.document, carts.c.version).where(carts.c.cart_id == bindparam("cart_id"))
_INSERT = insert(carts)
_UPDATE = (
    update(carts)
    .where(carts.c.cart_id == bindparam("key"), carts.c.version == bindparam("expected"))
    .values(document=bindparam("document"), version=bindparam("version"), updated_at=bindparam("updated_at"))
)
_DELETE = delete(carts).where(carts.c.cart_id == bindparam("key"), carts.c.version == bindparam("expected"))


@cache
def _get_sql(dialect: Dialect) -> str:
    """The read compiled once to the driver's SQL; its one parameter is the cart id."""
    return str(_GET.compile(dialect=dialect))


def _stale(cart_id: str, expected_version: int | None) -> StaleVersion:
    """What a lost race answers with; the use cases read again and retry on it (and on nothing else)."""
    if expected_version is None:
        message = f"cart {cart_id} already exists"
    else:
        message = f"cart {cart_id} changed since version {expected_version} was read"
    return StaleVersion(message, details=[problem("version", "stale; read the cart again")])


class SqlCartStore(CartStore):
    """Each write is one transaction holding the conditional write of the document and its outbox rows."""

    def __init__(self, engine: Engine, *, on_commit: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.on_commit = on_commit

    def get(self, cart_id: str) -> Cart | None:
        sql = _get_sql(self.engine.dialect)
        values = (cart_id,) if self.engine.dialect.positional else {"cart_id": cart_id}
        with driver_cursor(self.engine, WHAT) as cursor:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        if row is None:
            return None
        document, version = row
        # The row's version is the one conditions check; the document's copy is only what was written with it.
        return replace(Cart.from_json(orjson.loads(document)), version=version)

    def save(self, cart: Cart, *, expected_version: int | None, events: Sequence[Event] = ()) -> Cart:
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            stored = self._write(conn, cart, expected_version)
            self._stage(conn, events)
        self._committed(events)
        return stored

    def save_merged(
        self,
        cart: Cart,
        *,
        expected_version: int | None,
        absorbed_id: str,
        absorbed_version: int,
        events: Sequence[Event],
    ) -> Cart:
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            stored = self._write(conn, cart, expected_version)
            self._remove(conn, absorbed_id, absorbed_version)
            self._stage(conn, events)
        self._committed(events)
        return stored

    @staticmethod
    def _write(conn: Connection, cart: Cart, expected_version: int | None) -> Cart:
        """The conditional write of one document: an insert for a new cart, else an update on the version read."""
        stored = replace(cart, version=1 if expected_version is None else expected_version + 1)
        values = {
            "document": stored.encoded.decode(),
            "version": stored.version,
            "updated_at": stored.updated_at or datetime.now(UTC),
        }
        if expected_version is None:
            try:
                # A savepoint, so a lost race leaves the transaction usable on PostgreSQL as well.
                with conn.begin_nested():
                    conn.execute(_INSERT, {"cart_id": cart.cart_id, **values})
            except IntegrityError:
                raise _stale(cart.cart_id, expected_version) from None
        else:
            written = conn.execute(_UPDATE, {"key": cart.cart_id, "expected": expected_version, **values}).rowcount
            if written != 1:
                raise _stale(cart.cart_id, expected_version)
        return stored

    @staticmethod
    def _remove(conn: Connection, cart_id: str, expected_version: int) -> None:
        """The conditional removal of one document."""
        removed = conn.execute(_DELETE, {"key": cart_id, "expected": expected_version}).rowcount
        if removed != 1:
            raise _stale(cart_id, expected_version)

    def delete(self, cart_id: str, *, expected_version: int, events: Sequence[Event] = ()) -> None:
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            self._remove(conn, cart_id, expected_version)
            self._stage(conn, events)
        self._committed(events)

    def ping(self) -> None:
        with translated_errors(WHAT), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @staticmethod
    def _stage(conn: Connection, events: Sequence[Event]) -> None:
        """Events go to the outbox in the write's transaction: published only if the write commits."""
        for event in events:
            add_to_outbox(conn, outbox, CARTS_TOPIC, event)

    def _committed(self, events: Sequence[Event]) -> None:
        if events:
            self.on_commit()
