"""Windows on SQLAlchemy (SQLite embedded, PostgreSQL in production): inbox row and conditional upsert together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine, and_, bindparam, delete, or_, select, text
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mce.kit.db import translated_errors, write_transaction
from mce.kit.inbox import first_delivery_of, purge_inbox
from mce.services.analytics.domain import WindowRecord
from mce.services.analytics.store.port import Outcome, WindowStore
from mce.services.analytics.store.tables import inbox, windows

WHAT = "analytics database"

_RECENT = (
    select(
        windows.c.window_start,
        windows.c.window_end,
        windows.c.unique_users,
        windows.c.event_count,
        windows.c.event_id,
        windows.c.occurred_at_us,
    )
    .order_by(windows.c.window_start.desc())
    .limit(bindparam("limit"))
)
_PURGE = delete(windows).where(windows.c.stored_at < bindparam("stored_before"))


@cache
def _upsert(dialect: str) -> Any:
    """Insert the window, or replace the stored copy only when this one is newer; returns the revision written.

    One statement, so concurrent writers of one window (replicas, PostgreSQL) cannot interleave a read and a write:
    whatever order they commit in, the newest copy is the one left.
    """
    insert = (postgres_insert if dialect == "postgresql" else sqlite_insert)(windows)
    proposed = insert.excluded
    newer = or_(
        proposed.occurred_at_us > windows.c.occurred_at_us,
        and_(proposed.occurred_at_us == windows.c.occurred_at_us, proposed.event_id > windows.c.event_id),
    )
    return insert.on_conflict_do_update(
        index_elements=[windows.c.window_start],
        set_={
            "window_end": proposed.window_end,
            "unique_users": proposed.unique_users,
            "event_count": proposed.event_count,
            "event_id": proposed.event_id,
            "occurred_at_us": proposed.occurred_at_us,
            "revision": windows.c.revision + 1,
            "stored_at": proposed.stored_at,
        },
        where=newer,
    ).returning(windows.c.revision)


class SqlWindowStore(WindowStore):
    """A batch is one write transaction: its inbox rows and its window writes commit together or not at all."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def apply(self, group: str, windows: Sequence[WindowRecord]) -> list[Outcome]:
        if not windows:
            return []
        outcomes = []
        now = datetime.now(UTC)
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            upsert = _upsert(conn.dialect.name)
            for window in windows:
                if not first_delivery_of(conn, inbox, group, window.event_id):
                    outcomes.append(Outcome.DUPLICATE)
                    continue
                values = {
                    "window_start": window.window_start,
                    "window_end": window.window_end,
                    "unique_users": window.unique_users,
                    "event_count": window.event_count,
                    "event_id": window.event_id,
                    "occurred_at_us": window.occurred_at_us,
                    "revision": 1,
                    "stored_at": now,
                }
                revision = conn.execute(upsert, values).scalar()
                if revision is None:
                    outcomes.append(Outcome.STALE)
                else:
                    outcomes.append(Outcome.NEW if revision == 1 else Outcome.REPLACED)
        return outcomes

    def recent(self, limit: int) -> list[WindowRecord]:
        with translated_errors(WHAT), self.engine.connect() as conn:
            rows = conn.execute(_RECENT, {"limit": limit}).all()
        return [WindowRecord(*row) for row in rows]

    def purge(self, older_than: timedelta) -> int:
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            removed = conn.execute(_PURGE, {"stored_before": datetime.now(UTC) - older_than}).rowcount
            purge_inbox(conn, inbox, older_than)
        return removed

    def ping(self) -> None:
        with translated_errors(WHAT), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
