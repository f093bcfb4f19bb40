"""SQLAlchemy engines for SQLite (embedded) and PostgreSQL (production), and Alembic migrations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")
ReadRunner = Callable[..., Awaitable[Any]]


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgres URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its folder."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    """An engine with sane pooling; SQLite gets WAL and a busy timeout so processes can share it."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _ensure_sqlite_directory(url)
        # As many connections as anyio has worker threads, so no thread waits for one; overflow connections
        # would each pay the PRAGMA set-up below on every checkout.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=40, max_overflow=0
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects are untyped
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_recycle=1800)


def migrate(url: str, script_location: Path, revision: str = "head") -> None:
    """Bring the database at url to the given Alembic revision."""
    if url.startswith("sqlite"):
        _ensure_sqlite_directory(url)
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    command.upgrade(config, revision)


def read_runner(engine: Engine) -> ReadRunner:
    """How an async route should run a blocking read on this engine.

    A SQLite read in WAL mode is a sub-millisecond local call that never waits for a lock, so it runs on the
    event loop: a hop to the thread pool costs more than the read and halves throughput. A read over the network
    (PostgreSQL) may wait, so it goes to the thread pool. Writes always go to the thread pool: on SQLite they can
    wait for another process's write lock.
    """
    if engine.dialect.name == "sqlite":

        async def on_the_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
            return fn(*args, **kwargs)

        return on_the_loop
    return run_in_threadpool
