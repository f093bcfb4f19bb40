"""SQL tables of the analytics service; the migrations create them, the adapter queries them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

from mce.kit.db import Migrations
from mce.kit.inbox import inbox_table
from mce.kit.sqltypes import UtcDateTime

MIGRATIONS = Migrations(Path(__file__).parent.parent / "migrations", "alembic_version_analytics")

metadata = MetaData()

# Byte order on PostgreSQL too, so ties between copies break the same way whatever the database's collation.
EVENT_ID = String(64).with_variant(String(64, collation="C"), "postgresql")

# One row per window; the event that brought the kept copy is its version, compared as (occurred_at_us, event_id).
windows = Table(
    "windows",
    metadata,
    Column("window_start", BigInteger, primary_key=True, autoincrement=False),
    Column("window_end", BigInteger, nullable=False),
    Column("unique_users", BigInteger, nullable=False),
    Column("event_count", BigInteger, nullable=False),
    Column("event_id", EVENT_ID, nullable=False),
    Column("occurred_at_us", BigInteger, nullable=False),
    # How many copies of the window have been kept: 1, then one more per correction.
    Column("revision", Integer, nullable=False),
    # When this copy was stored: retention counts from it, so a replay of old events is kept as long as fresh ones.
    Column("stored_at", UtcDateTime, nullable=False, index=True),
)

inbox = inbox_table(metadata)
