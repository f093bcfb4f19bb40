"""The inbox: which events a consumer group has already applied, recorded in the same transaction as their effects.

Delivery is at least once (a relay or a consumer may crash between doing and recording); the inbox makes the
effects exactly once: an event whose `(group, event_id)` row exists is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, delete
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from mce.kit.events import Event


def inbox_table(metadata: MetaData) -> Table:
    """The inbox table a consuming service declares in its own metadata and migrations."""
    return Table(
        "inbox",
        metadata,
        Column("consumer_group", String(200), nullable=False),
        Column("event_id", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, index=True),
        PrimaryKeyConstraint("consumer_group", "event_id", name="inbox_pk"),
    )


def first_delivery(conn: Connection, table: Table, group: str, event: Event) -> bool:
    """Record that the group applies this event now; False when it already has, so its effects must be skipped.

    On PostgreSQL a concurrent twin waits on the primary key until this transaction ends, then finds the row.
    """
    return first_delivery_of(conn, table, group, event.event_id)


def first_delivery_of(conn: Connection, table: Table, group: str, event_id: str) -> bool:
    """first_delivery by the event's id alone, for a consumer that keeps the id and not the whole event."""
    values = {"consumer_group": group, "event_id": event_id, "processed_at": datetime.now(UTC)}
    # RETURNING, not rowcount: drivers disagree on rowcount for an INSERT that did nothing.
    return conn.execute(_first_statement(conn.dialect.name, table), values).first() is not None


@cache
def _first_statement(dialect: str, table: Table) -> Any:
    """Insert the (group, event) row unless it exists, returning it when inserted; built once per table."""
    insert = postgres_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table).on_conflict_do_nothing(index_elements=["consumer_group", "event_id"]).returning(table.c.event_id)
    )


def purge_inbox(conn: Connection, table: Table, older_than: timedelta = timedelta(days=7)) -> int:
    """Forget events applied longer ago than any redelivery can come (the bus keeps events for less)."""
    return conn.execute(delete(table).where(table.c.processed_at < datetime.now(UTC) - older_than)).rowcount
