"""Checkpoints of the stream job: its open windows and the bus offsets they cover, saved together or not at all."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mce.kit.wal import enable_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    offsets BLOB NOT NULL,
    state BLOB NOT NULL,
    saved_at REAL NOT NULL,
    PRIMARY KEY (grp, topic)
)
"""


@dataclass(frozen=True)
class Checkpoint:
    """The window state after the events up to `offsets` (partition -> last offset folded in)."""

    offsets: dict[int, int]
    state: dict[str, Any]


class SqliteCheckpointStore:
    """One row per (group, topic) in a SQLite file, replaced in one transaction each time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        enable_wal(self._conn)
        # FULL: the bus offset is committed right after a checkpoint, so a checkpoint must outlive even an OS crash.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)
        self._lock = threading.Lock()

    def load(self, group: str, topic: str) -> Checkpoint | None:
        """The last checkpoint saved for the group on the topic, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT offsets, state FROM checkpoints WHERE grp = ? AND topic = ?", (group, topic)
            ).fetchone()
        if row is None:
            return None
        offsets = {int(partition): offset for partition, offset in orjson.loads(row[0]).items()}
        return Checkpoint(offsets, orjson.loads(row[1]))

    def save(self, group: str, topic: str, checkpoint: Checkpoint) -> None:
        """Replace the group's checkpoint on the topic; returns once it is durable."""
        offsets = orjson.dumps({str(p): o for p, o in checkpoint.offsets.items()})
        state = orjson.dumps(checkpoint.state)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO checkpoints (grp, topic, offsets, state, saved_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (grp, topic) DO UPDATE SET "
                    "offsets = excluded.offsets, state = excluded.state, saved_at = excluded.saved_at",
                    (group, topic, offsets, state, time.time()),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def ping(self) -> None:
        """Raise if the file cannot be read."""
        with self._lock:
            self._conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchall()

    def close(self) -> None:
        """Release the file."""
        with self._lock:
            self._conn.close()
