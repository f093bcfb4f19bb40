"""Transactional outbox: events are written with the change they describe, then relayed to the bus.

Any number of relays may run (one per replica). On PostgreSQL they take turns through a lease row locked with
`FOR UPDATE SKIP LOCKED`: the one holding it publishes, the others find it taken and wait for the next round, so
events leave in the order they were written. On SQLite (one machine) relays do not coordinate: two may publish the
same batch, which is allowed, because delivery is at least once and consumers apply each event once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row

from mce.kit.bus.port import EventBus
from mce.kit.db import write_transaction
from mce.kit.events import Event
from mce.kit.loop import BackgroundLoop

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY_S = 600.0
# Published events deleted per transaction when purging.
PURGE_BATCH = 1000
LEASE_ID = 1
# How often a relay counts its backlog for /metrics: from its own thread, never on a request or a scrape.
BACKLOG_EVERY_S = 5.0


class BacklogCount:
    """A relay's backlog as last counted; `tick` counts again when due, and keeps the last figure when it cannot."""

    def __init__(self, count: Callable[[], int], *, every_s: float = BACKLOG_EVERY_S) -> None:
        self.count = count
        self.every_s = every_s
        self.value: int | None = None
        self._due = 0.0

    def tick(self) -> None:
        """Count the backlog if the last count is older than every_s."""
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + self.every_s
        try:
            self.value = self.count()
        except Exception as exc:
            log.warning("could not count the outbox backlog: %s", exc)


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table a service declares in its own metadata and migrations."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("topic", String(200), nullable=False),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True, index=True),
    )


def outbox_lease_table(metadata: MetaData) -> Table:
    """One row that relays lock in turn; its migration inserts the row with id LEASE_ID."""
    return Table("outbox_lease", metadata, Column("id", Integer, primary_key=True, autoincrement=False))


def add_to_outbox(conn: Connection, table: Table, topic: str, event: Event) -> None:
    """Stage an event in the caller's transaction; it is published only if that transaction commits."""
    # Values bound at execution, not built into the statement: one statement object, compiled once.
    values = {"topic": topic, "event_id": event.event_id, "payload": event.to_bytes(), "created_at": datetime.now(UTC)}
    conn.execute(insert(table), values)


Housekeeping = Callable[[], object]


class OutboxRelay(BackgroundLoop):
    """Publishes staged events in the order they were written, then marks them published."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        bus: EventBus,
        *,
        lease: Table | None = None,
        batch: int = 500,
        idle_poll_s: float = 0.5,
        coalesce_s: float = 0.0,
        housekeeping: Sequence[Housekeeping] = (),
    ) -> None:
        self.engine = engine
        self.table = table
        self.lease = lease
        self.bus = bus
        self.batch = batch
        self.idle_poll_s = idle_poll_s
        self.coalesce_s = coalesce_s
        self.housekeeping = [self.purge_published, *housekeeping]
        self.published = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._backlog = BacklogCount(self.backlog)
        super().__init__("outbox-relay")

    def relay_once(self) -> int:
        """Publish one batch of unpublished events; returns how many (0 also when another relay holds the lease)."""
        if self.engine.dialect.name == "postgresql":
            return self._relay_with_lease()
        with self.engine.connect() as conn:
            rows = self._pending(conn)
        if not rows:
            return 0
        self._publish(rows)
        # A crash between publish and this update republishes: consumers apply an event once by its id.
        with write_transaction(self.engine) as conn:
            self._mark(conn, rows)
        return len(rows)

    def _relay_with_lease(self) -> int:
        """Hold the lease for read, publish and mark, so concurrent relays never reorder events."""
        with write_transaction(self.engine) as conn:
            if self.lease is not None:
                held = conn.execute(
                    select(self.lease.c.id).where(self.lease.c.id == LEASE_ID).with_for_update(skip_locked=True)
                ).first()
                if held is None:
                    return 0
            rows = self._pending(conn)
            if not rows:
                return 0
            self._publish(rows)
            self._mark(conn, rows)
        return len(rows)

    def _pending(self, conn: Connection) -> list[Row]:
        """The oldest unpublished events, in write order."""
        t = self.table
        return list(
            conn.execute(
                select(t.c.id, t.c.topic, t.c.payload)
                .where(t.c.published_at.is_(None))
                .order_by(t.c.id)
                .limit(self.batch)
            ).all()
        )

    def _publish(self, rows: Sequence[Row]) -> None:
        """Send the rows to the bus, grouped by topic, keeping their order within each topic."""
        by_topic: dict[str, list[Event]] = {}
        for row in rows:
            by_topic.setdefault(row.topic, []).append(Event.from_bytes(row.payload))
        for topic, events in by_topic.items():
            self.bus.publish(topic, events)

    def _mark(self, conn: Connection, rows: Sequence[Row]) -> None:
        t = self.table
        conn.execute(update(t).where(t.c.id.in_([row.id for row in rows])).values(published_at=datetime.now(UTC)))
        self.published += len(rows)

    def purge_published(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete events published longer ago than older_than, so the outbox does not grow forever.

        In transactions of at most PURGE_BATCH rows: ten minutes of a busy day's events in one delete held the
        service's write lock for as long as it took, and the cart's adds wait for that lock on its event loop.
        """
        cutoff = datetime.now(UTC) - older_than
        t = self.table
        oldest = select(t.c.id).where(t.c.published_at < cutoff).order_by(t.c.id).limit(PURGE_BATCH)
        purged = 0
        while not self._stop.is_set():
            with write_transaction(self.engine) as conn:
                deleted = conn.execute(delete(t).where(t.c.id.in_(oldest.scalar_subquery()))).rowcount
            purged += deleted
            if deleted < PURGE_BATCH:
                break
        return purged

    def backlog(self) -> int:
        """How many events wait to be published."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(self.table).where(self.table.c.published_at.is_(None))
            ).scalar_one()

    @property
    def pending(self) -> int | None:
        """The backlog as last counted by the relay's thread (None before its first count)."""
        return self._backlog.value

    def wake(self) -> None:
        """Tell the relay that new events were just committed."""
        # Setting an Event takes its lock and notifies; while the relay has not yet woken, once is enough.
        if not self._wake.is_set():
            self._wake.set()

    def _interrupt(self) -> None:
        self._wake.set()

    def run(self) -> None:
        """Drain the outbox, then sleep until woken or the idle poll comes round; keep the tables small now and then."""
        next_housekeeping = time.monotonic()
        while not self._stop.is_set():
            # Clear before draining so a wake that arrives mid-drain starts another pass at once.
            self._wake.clear()
            try:
                # A batch short of full drained the outbox: reading it again would find nothing (and a commit that
                # lands meanwhile wakes the relay for another pass).
                while self.relay_once() >= self.batch and not self._stop.is_set():
                    pass
                if time.monotonic() >= next_housekeeping:
                    for chore in self.housekeeping:
                        chore()
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY_S
                self.last_error = None
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("outbox relay failed; will retry")
                self._stop.wait(1.0)
            self._backlog.tick()
            if self._wake.wait(self.idle_poll_s) and self.coalesce_s:
                # Commits that land within the window share one read, publish and mark instead of one each.
                self._stop.wait(self.coalesce_s)
