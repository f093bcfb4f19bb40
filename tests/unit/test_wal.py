"""A SQLite file is switched to WAL even while another process holds its write lock (services starting together)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.db import make_engine
from mce.kit.wal import enable_wal
from mce.stream.checkpoint import SqliteCheckpointStore


def _writer_holding_the_lock(path: Path, seconds: float) -> threading.Thread:
    """A connection that has written to a new file and commits only after `seconds` (as a schema being made)."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE made_first (x)")

    def commit_later() -> None:
        time.sleep(seconds)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=commit_later)
    thread.start()
    return thread


def test_sqlite_itself_refuses_the_switch_at_once_while_another_connection_writes(tmp_path: Path) -> None:
    # Why enable_wal exists: a plain PRAGMA fails at once, whatever the busy timeout.
    path = tmp_path / "plain.db"
    holder = _writer_holding_the_lock(path, 0.3)
    try:
        plain = sqlite3.connect(path, timeout=30, isolation_level=None)
        began = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            plain.execute("PRAGMA journal_mode=WAL")
        assert time.monotonic() - began < 0.25
        plain.close()
    finally:
        holder.join()


@pytest.mark.parametrize(
    "opener",
    [
        lambda path: enable_wal(sqlite3.connect(path, isolation_level=None)),
        lambda path: SqliteEventBus(path).close(),
        lambda path: SqliteCheckpointStore(path),
        lambda path: make_engine(f"sqlite:///{path}").connect().close(),
    ],
    ids=["enable_wal", "event bus", "stream checkpoints", "service engine"],
)
def test_opening_waits_for_the_other_writer_and_then_switches_to_wal(tmp_path: Path, opener) -> None:
    path = tmp_path / "shared.db"
    holder = _writer_holding_the_lock(path, 0.3)
    began = time.monotonic()
    try:
        opener(path)
    finally:
        holder.join()
    assert time.monotonic() - began >= 0.25
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    check.close()


def test_a_writer_that_never_lets_go_still_fails_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "stuck.db"
    holder = _writer_holding_the_lock(path, 1.0)
    try:
        began = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            enable_wal(sqlite3.connect(path, isolation_level=None), timeout_s=0.3)
        assert 0.2 <= time.monotonic() - began < 0.9
    finally:
        holder.join()
