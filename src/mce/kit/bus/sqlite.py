"""Embedded EventBus: a durable log in one SQLite file that several processes share."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from mce.kit.bus.port import Delivery, EventBus, Subscription
from mce.kit.events import Event

POLL_INTERVAL_S = 0.02

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_topic ON events (topic, seq);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    committed INTEGER NOT NULL,
    PRIMARY KEY (grp, topic)
);
"""


def _connect(path: Path) -> sqlite3.Connection:
    """A connection tuned for many processes sharing one file."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash; only an OS crash can lose the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _delivery(topic: str, seq: int, payload: bytes) -> Delivery:
    """A delivery, with event None when the payload does not parse, so one bad row cannot block a topic."""
    try:
        event = Event.from_bytes(payload)
    except ValueError:
        event = None
    return Delivery(topic, seq, event, bytes(payload))


class SqliteEventBus(EventBus):
    """Topics are rows ordered by a global sequence, so each topic is one ordered partition."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = _connect(self.path)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def publish(self, topic: str, events: Sequence[Event]) -> None:
        if not events:
            return
        now = time.time()
        rows = [(topic, e.key, e.event_id, e.to_bytes(), now) for e in events]
        with self._lock:
            # One write transaction: the batch lands whole, in order, or not at all.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO events (topic, key, event_id, payload, stored_at) VALUES (?, ?, ?, ?, ?)", rows
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def subscribe(self, topic: str, group: str) -> Subscription:
        return SqliteSubscription(self.path, topic, group)

    def ping(self) -> None:
        with self._lock:
            self._conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SqliteSubscription(Subscription):
    """A group member reading one topic with its own connection, so it can live in its own thread."""

    def __init__(self, path: Path, topic: str, group: str) -> None:
        self.topic = topic
        self.group = group
        self._conn = _connect(path)
        row = self._conn.execute(
            "SELECT committed FROM group_offsets WHERE grp = ? AND topic = ?", (group, topic)
        ).fetchone()
        self._position = row[0] if row else 0

    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self._conn.execute(
                "SELECT seq, payload FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
                (self.topic, self._position, max_events),
            ).fetchall()
            if rows:
                self._position = rows[-1][0]
                return [_delivery(self.topic, seq, payload) for seq, payload in rows]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(POLL_INTERVAL_S, remaining))

    def commit(self, delivery: Delivery) -> None:
        self._conn.execute(
            "INSERT INTO group_offsets (grp, topic, committed) VALUES (?, ?, ?) "
            "ON CONFLICT (grp, topic) DO UPDATE SET committed = max(committed, excluded.committed)",
            (self.group, self.topic, delivery.offset),
        )

    def close(self) -> None:
        self._conn.close()
