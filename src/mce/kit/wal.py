"""Switching a SQLite database to write-ahead logging when other processes may be opening it at the same moment."""

from __future__ import annotations

import sqlite3
import time

# The longest single pause between tries: short, since the other side's change takes milliseconds.
MAX_PAUSE_S = 0.1


def enable_wal(conn: sqlite3.Connection, *, timeout_s: float = 30.0) -> str:
    """Set journal_mode=WAL on this connection, waiting out a concurrent writer; the mode SQLite reports.

    The switch needs the database to itself. When another connection holds its write lock (say, a process making
    the schema of a new file), SQLite answers "database is locked" at once instead of calling the busy handler,
    since waiting could deadlock; so nine services starting together on a new bus.db could fail one of them. Here
    the switch is tried again until the timeout.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.002
    while True:
        try:
            return conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, MAX_PAUSE_S)
