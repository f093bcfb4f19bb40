"""Embedded EventBus: a durable log in one SQLite file that several processes share.

Each topic is one partition (0) whose offsets are the log's global sequence numbers. Old events are dropped by age
and by the file's size, oldest first; a group whose offset falls behind that simply resumes at the oldest kept.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from mce.kit.bus.port import Delivery, EventBus, Subscription
from mce.kit.events import Event
from mce.kit.wal import enable_wal

POLL_INTERVAL_S = 0.02
PARTITION = 0
SCHEMA_VERSION = 1
RETENTION_CHECK_EVERY_S = 60.0
DELETE_CHUNK = 10_000

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
CREATE TABLE IF NOT EXISTS committed_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    committed INTEGER NOT NULL,
    committed_at REAL NOT NULL,
    PRIMARY KEY (grp, topic, partition)
);
"""
# The foundation's log kept one offset per group and topic, without partitions.
_FROM_VERSION_0 = """
INSERT OR IGNORE INTO committed_offsets (grp, topic, partition, committed, committed_at)
    SELECT grp, topic, 0, committed, strftime('%s', 'now') FROM group_offsets;
DROP TABLE group_offsets;
"""


def _connect(path: Path) -> sqlite3.Connection:
    """A connection tuned for many processes sharing one file."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    enable_wal(conn)
    # NORMAL in WAL mode survives a process crash; only an OS crash can lose the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _prepare(conn: sqlite3.Connection) -> None:
    """Create the schema, or bring an older one up to date; one process at a time."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Statement by statement: executescript() would commit the transaction that makes this one process's job.
        for statement in filter(str.strip, _SCHEMA.split(";")):
            conn.execute(statement)
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            old = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='group_offsets'").fetchone()
            if old:
                for statement in filter(str.strip, _FROM_VERSION_0.split(";")):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _delivery(topic: str, seq: int, key: str, payload: bytes) -> Delivery:
    """A delivery, with event None when the payload does not parse, so one bad row cannot block a topic."""
    try:
        event = Event.from_bytes(payload)
    except ValueError:
        event = None
    return Delivery(topic, PARTITION, seq, key, event, bytes(payload))


class SqliteEventBus(EventBus):
    """Topics are rows ordered by a global sequence, so each topic is one ordered partition."""

    def __init__(self, path: Path, *, retention_s: float = 7 * 86400, retention_bytes: int = 512 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_s = retention_s
        self.retention_bytes = retention_bytes
        self._conn = _connect(self.path)
        self._lock = threading.Lock()
        self._next_retention = time.monotonic() + RETENTION_CHECK_EVERY_S
        with self._lock:
            _prepare(self._conn)

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
        if time.monotonic() >= self._next_retention:
            self._next_retention = time.monotonic() + RETENTION_CHECK_EVERY_S
            self.enforce_retention()

    def enforce_retention(self) -> int:
        """Drop events older than the retention time, then the oldest until the log fits its size; returns how many."""
        dropped = 0
        cutoff = time.time() - self.retention_s
        with self._lock:
            while True:
                removed = self._delete_oldest("stored_at < ?", (cutoff,))
                dropped += removed
                if removed < DELETE_CHUNK:
                    break
            while self._used_bytes() > self.retention_bytes:
                # A twentieth at a time: the size only shrinks by whole pages, so this stops close to the limit.
                rows = self._conn.execute("SELECT count(*) FROM events").fetchone()[0]
                removed = self._delete_oldest("1 = 1", (), limit=max(100, rows // 20))
                dropped += removed
                if not removed:
                    break
            # Groups that have not committed for the retention time are gone (e.g. a replaced search replica's).
            self._conn.execute("DELETE FROM committed_offsets WHERE committed_at < ?", (cutoff,))
        return dropped

    def _delete_oldest(self, condition: str, params: tuple, *, limit: int = DELETE_CHUNK) -> int:
        """Delete up to one chunk of the oldest events meeting the condition, in one short write transaction."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            removed = self._conn.execute(
                f"DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE {condition} ORDER BY seq LIMIT ?)",
                (*params, limit),
            ).rowcount
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return removed

    def _used_bytes(self) -> int:
        """Bytes of the file in use; deleted rows' pages are free for reuse, so they do not count."""
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

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
            "SELECT committed FROM committed_offsets WHERE grp = ? AND topic = ? AND partition = ?",
            (group, topic, PARTITION),
        ).fetchone()
        self._position = row[0] if row else 0

    def poll(self, max_events: int = 100, timeout: float = 1.0) -> list[Delivery]:
        rows = self._next_rows("seq, key, payload", max_events, timeout)
        return [_delivery(self.topic, seq, key, payload) for seq, key, payload in rows]

    def poll_raw(self, max_events: int = 100, timeout: float = 1.0) -> list[tuple[int, int, bytes]]:
        # SQLite builds the tuples itself: no Python work per event here, which the stream runner's speed needs.
        return self._next_rows(f"{PARTITION}, seq, payload", max_events, timeout, position_column=1)

    def _next_rows(self, columns: str, max_events: int, timeout: float, *, position_column: int = 0) -> list[tuple]:
        """The next rows after the position, waiting up to timeout for one; moves the position past them."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self._conn.execute(
                f"SELECT {columns} FROM events WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
                (self.topic, self._position, max_events),
            ).fetchall()
            if rows:
                self._position = rows[-1][position_column]
                return rows
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(POLL_INTERVAL_S, remaining))

    def lag(self) -> dict[int, int]:
        # Offsets are the log's global sequence, shared by every topic: the events after the group's offset are
        # counted (an index range), since the difference of two offsets would count other topics' events too.
        row = self._conn.execute(
            "SELECT committed FROM committed_offsets WHERE grp = ? AND topic = ? AND partition = ?",
            (self.group, self.topic, PARTITION),
        ).fetchone()
        committed = row[0] if row else 0
        behind = self._conn.execute(
            "SELECT count(*) FROM events WHERE topic = ? AND seq > ?", (self.topic, committed)
        ).fetchone()[0]
        return {PARTITION: behind}

    def commit(self, delivery: Delivery) -> None:
        self._conn.execute(
            "INSERT INTO committed_offsets (grp, topic, partition, committed, committed_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (grp, topic, partition) DO UPDATE SET "
            "committed = max(committed, excluded.committed), committed_at = excluded.committed_at",
            (self.group, self.topic, delivery.partition, delivery.offset, time.time()),
        )

    def close(self) -> None:
        self._conn.close()
