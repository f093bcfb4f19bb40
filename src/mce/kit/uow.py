"""The unit of work: one transaction over a service's own database, in which its changes, the events they raise
(outbox), the events it has applied (inbox) and the answers to keyed requests (idempotency) commit together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Self

from sqlalchemy import Engine, Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from mce.kit import idempotency, inbox
from mce.kit.db import translated_errors, write_transaction
from mce.kit.events import Event
from mce.kit.outbox import add_to_outbox


class SqlUnitOfWork:
    """Use as `with uow:`; the block commits when it ends cleanly and rolls back when it raises.

    Services subclass it to add their repositories, built on `self.conn` in `_open`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        what: str,
        outbox: Table,
        inbox_table: Table | None = None,
        idempotency_table: Table | None = None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.what = what
        self.outbox = outbox
        self.inbox_table = inbox_table
        self.idempotency_table = idempotency_table
        self.on_commit = on_commit
        self._transaction: AbstractContextManager[Connection] | None = None
        self._conn: Connection | None = None
        self._staged = 0

    @property
    def conn(self) -> Connection:
        """The open transaction's connection."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open; use it in a with block")
        return self._conn

    def __enter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("a unit of work is not re-entrant")
        self._transaction = write_transaction(self.engine)
        with translated_errors(self.what):
            self._conn = self._transaction.__enter__()
        self._staged = 0
        self._open(self._conn)
        return self

    def _open(self, conn: Connection) -> None:
        """Build the service's repositories on the transaction's connection."""

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        transaction, self._transaction, self._conn = self._transaction, None, None
        assert transaction is not None
        with translated_errors(self.what):
            transaction.__exit__(exc_type, exc, tb)
            if isinstance(exc, DBAPIError):
                # A driver error raised by the work itself is translated like one raised by the commit.
                raise exc
        if exc is None and self._staged:
            self.on_commit()

    def emit(self, topic: str, event: Event) -> None:
        """Stage an event; it is published only if this unit of work commits."""
        add_to_outbox(self.conn, self.outbox, topic, event)
        self._staged += 1

    def first_delivery(self, group: str, event: Event) -> bool:
        """Whether this is the first time the group applies the event (recorded in this transaction)."""
        if self.inbox_table is None:
            raise RuntimeError(f"the {self.what} has no inbox")
        return inbox.first_delivery(self.conn, self.inbox_table, group, event)

    def claim_key(self, *, scope: str, key: str, fingerprint: str) -> idempotency.StoredResponse | None:
        """Reserve an idempotency key in this transaction; the stored answer when it was used before."""
        return idempotency.claim(self.conn, self._keys(), scope=scope, key=key, fingerprint=fingerprint)

    def record_key(self, *, scope: str, key: str, status: int, body: bytes, location: str | None = None) -> None:
        """Store the answer for a claimed key, committed with the write."""
        idempotency.record(self.conn, self._keys(), scope=scope, key=key, status=status, body=body, location=location)

    def _keys(self) -> Table:
        if self.idempotency_table is None:
            raise RuntimeError(f"the {self.what} keeps no idempotency keys")
        return self.idempotency_table


def apply_once(
    open_uow: Callable[[], SqlUnitOfWork], group: str, apply: Callable[[SqlUnitOfWork, Event], None]
) -> Callable[[Sequence[Event]], None]:
    """A consumer's batch handler that applies each event at most once, recording it in the inbox with its effects."""

    def handle(events: Sequence[Event]) -> None:
        with open_uow() as uow:
            for event in events:
                if uow.first_delivery(group, event):
                    apply(uow, event)

    return handle
