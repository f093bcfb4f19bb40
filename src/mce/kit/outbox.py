"""Transactional outbox: events are written with the change they describe, then relayed to the bus."""

from __future__ import annotations

import logging
import threading
import time
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
from sqlalchemy.engine import Connection

from mce.kit.bus.port import EventBus
from mce.kit.events import Event

log = logging.getLogger(__name__)

PURGE_EVERY_S = 600.0


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


def add_to_outbox(conn: Connection, table: Table, topic: str, event: Event) -> None:
    """Stage an event in the caller's transaction; it is published only if that transaction commits."""
    conn.execute(
        insert(table).values(
            topic=topic, event_id=event.event_id, payload=event.to_bytes(), created_at=datetime.now(UTC)
        )
    )


class OutboxRelay:
    """Publishes staged events in the order they were written, then marks them published."""

    def __init__(
        self, engine: Engine, table: Table, bus: EventBus, *, batch: int = 500, idle_poll_s: float = 0.5
    ) -> None:
        self.engine = engine
        self.table = table
        self.bus = bus
        self.batch = batch
        self.idle_poll_s = idle_poll_s
        self.published = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def relay_once(self) -> int:
        """Publish one batch of unpublished events; returns how many."""
        t = self.table
        with self.engine.begin() as conn:
            # FOR UPDATE makes concurrent relays (several replicas) take turns, which keeps the order.
            rows = conn.execute(
                select(t.c.id, t.c.topic, t.c.payload)
                .where(t.c.published_at.is_(None))
                .order_by(t.c.id)
                .limit(self.batch)
                .with_for_update()
            ).all()
            if not rows:
                return 0
            by_topic: dict[str, list[Event]] = {}
            order: list[str] = []
            for row in rows:
                if row.topic not in by_topic:
                    order.append(row.topic)
                by_topic.setdefault(row.topic, []).append(Event.from_bytes(row.payload))
            for topic in order:
                self.bus.publish(topic, by_topic[topic])
            # A crash between publish and this update republishes: consumers dedupe by event_id.
            conn.execute(update(t).where(t.c.id.in_([row.id for row in rows])).values(published_at=datetime.now(UTC)))
        self.published += len(rows)
        return len(rows)

    def purge_published(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete events published longer ago than older_than, so the outbox does not grow forever."""
        cutoff = datetime.now(UTC) - older_than
        with self.engine.begin() as conn:
            return conn.execute(delete(self.table).where(self.table.c.published_at < cutoff)).rowcount

    def backlog(self) -> int:
        """How many events wait to be published."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(self.table).where(self.table.c.published_at.is_(None))
            ).scalar_one()

    def wake(self) -> None:
        """Tell the relay that new events were just committed."""
        self._wake.set()

    def start(self) -> None:
        """Relay in a daemon thread until stopped."""
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the current batch and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        """Drain the outbox, then sleep until woken or the idle poll comes round; purge now and then."""
        next_purge = time.monotonic()
        while not self._stop.is_set():
            # Clear before draining so a wake that arrives mid-drain starts another pass at once.
            self._wake.clear()
            try:
                while self.relay_once() and not self._stop.is_set():
                    pass
                if time.monotonic() >= next_purge:
                    self.purge_published()
                    next_purge = time.monotonic() + PURGE_EVERY_S
                self.last_error = None
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("outbox relay failed; will retry")
                self._stop.wait(1.0)
            self._wake.wait(self.idle_poll_s)
