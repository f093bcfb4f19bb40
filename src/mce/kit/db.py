"""SQLAlchemy engines for SQLite (embedded) and PostgreSQL (production), write transactions, and Alembic migrations."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, MetaData, create_engine, engine_from_config, event, pool, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from starlette.concurrency import run_in_threadpool

from mce.kit.errors import Conflict, Unavailable
from mce.kit.wal import enable_wal

P = ParamSpec("P")
T = TypeVar("T")
ReadRunner = Callable[..., Awaitable[Any]]

# Execution option that makes a SQLite transaction take the write lock when it begins, not at its first write.
_WRITE = "mce_write"
# Seconds to open a connection to PostgreSQL before the call fails as unavailable.
CONNECT_TIMEOUT_S = 5
# One lock per SQLite engine, forgotten with the engine.
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


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
    """An engine with sane pooling; SQLite gets WAL, a busy timeout and explicit transactions so processes share it."""
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
            # We begin transactions ourselves (below), so the driver must not.
            dbapi_conn.isolation_level = None
            enable_wal(dbapi_conn)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # A read that later writes cannot upgrade once another writer committed (SQLITE_BUSY_SNAPSHOT, which
            # no busy timeout waits out); so a write transaction takes the write lock as it begins.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

        _WRITE_LOCKS[engine] = threading.Lock()
        return engine
    # A database that does not answer fails a request in seconds (503), instead of holding it until TCP gives up.
    return create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database url names if it does not exist (a service's own, on a shared server).

    True if it was made. SQLite makes its file itself. The role needs CREATEDB; where it lacks it, an operator
    makes the database once and this only finds it there.
    """
    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        return False
    admin = create_engine(
        parsed.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database})
            if found.first() is not None:
                return False
            try:
                conn.execute(text(f'CREATE DATABASE "{_quoted_name(parsed.database)}"'))
            except ProgrammingError as exc:
                # Two services (or two `mce migrate` jobs) racing to make it: the other one won.
                if "already exists" not in str(exc):
                    raise
                return False
            return True
    finally:
        admin.dispose()


def _quoted_name(name: str) -> str:
    """A database name safe inside double quotes."""
    return name.replace('"', '""')


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Constraint violations become Conflict and lost connections Unavailable, naming what failed."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(f"the change breaks a rule of the {what}") from exc
    except OperationalError as exc:
        raise Unavailable(f"{what} is unavailable: {type(exc.orig).__name__}", service=what) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable(f"{what} is unavailable: connection lost", service=what) from exc
        raise


@contextmanager
def driver_cursor(engine: Engine, what: str) -> Iterator[Any]:
    """A driver cursor on a pooled connection for a hot read, the driver's errors translated like SQLAlchemy's.

    The pool's connection itself, without SQLAlchemy's Connection, its BEGIN and its statement execution around
    it: on the hottest reads that wrapper cost more than the query (17 of 100 us for a page of products, 0.29 of
    0.34 ms for a session, measured here). The caller runs SQL compiled once for the engine's dialect.
    """
    driver_error = engine.dialect.loaded_dbapi.Error
    try:
        with translated_errors(what), contextlib.closing(engine.raw_connection()) as conn:
            cursor = conn.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
    except driver_error as exc:
        raise Unavailable(f"{what} is unavailable: {type(exc).__name__}", service=what) from exc


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that commits when the block ends cleanly and rolls back when it raises.

    On SQLite one process's writers take turns on a lock of their own first: they would otherwise wait for each
    other inside SQLite's busy handler, which sleeps in steps of up to 100 ms.
    """
    lock = _WRITE_LOCKS.get(engine)
    if lock is not None:
        lock.acquire()
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn
    finally:
        if lock is not None:
            lock.release()


def _alembic_config(url: str, script_location: Path) -> Any:
    # Alembic is imported where it is used: a service that does not migrate at start (under `mce up`, or in a
    # cluster whose migration job ran) skips a fifth of a second of imports, in every process that starts.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def is_current(url: str, script_location: Path, version_table: str) -> bool:
    """Whether the database is already at the newest revision, asked without running any migration code."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory(str(script_location)).get_heads())
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn, opts={"version_table": version_table}).get_current_heads())
    except OperationalError:
        return False
    finally:
        engine.dispose()
    return current == heads


def migrate(url: str, script_location: Path, revision: str = "head") -> None:
    """Bring the database at url to the given Alembic revision."""
    if url.startswith("sqlite"):
        _ensure_sqlite_directory(url)
    from alembic import command

    command.upgrade(_alembic_config(url, script_location), revision)


def read_runner(engine: Engine) -> ReadRunner:
    """How an async route should run a blocking read on this engine.

    A SQLite read in WAL mode is a sub-millisecond local call that never waits for a lock, so it runs on the
    event loop: a hop to the thread pool costs more than the read and halves throughput. A read over the network
    (PostgreSQL) may wait, so it goes to the thread pool. Writes go to the thread pool (on SQLite they can wait
    for another process's write lock), unless only this process writes the file: see private_write_runner.
    """
    return on_the_loop if engine.dialect.name == "sqlite" else run_in_threadpool


def private_write_runner(engine: Engine) -> ReadRunner:
    """How an async route should run a short write transaction on a database only this process writes.

    On such a SQLite file a write waits for nothing but this process's own writers (which take turns on the engine's
    lock, see write_transaction): it runs on the event loop. On a worker thread it contended for the GIL with the
    loop, which stretched each transaction while the next writers queued behind its lock: the cart's add took a p95
    of 10-32 ms (per 10 s of a 200-user load run, the two cores half busy), 4-9 ms on the loop. PostgreSQL, reached
    over the network, keeps the thread pool. Not for a file another process writes: its lock would stall the loop.
    """
    return on_the_loop if engine.dialect.name == "sqlite" else run_in_threadpool


async def on_the_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call right here, on the event loop."""
    return fn(*args, **kwargs)


@dataclass(frozen=True)
class Migrations:
    """Where a service's Alembic scripts live and the table that records its revision."""

    script_location: Path
    version_table: str

    def is_current(self, url: str) -> bool:
        """Whether the database at url is already at the newest revision."""
        return is_current(url, self.script_location, self.version_table)

    def apply(self, url: str) -> None:
        """Bring the database at url to the newest revision, creating a missing PostgreSQL database first."""
        ensure_database(url)
        migrate(url, self.script_location)


def run_alembic_environment(metadata: MetaData, version_table: str) -> None:
    """The body of a service's migrations/env.py: run its migrations on the URL its caller configured."""
    from alembic import context

    config = context.config
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        # Batch mode lets later ALTERs work on SQLite, which rebuilds tables to alter them.
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            version_table=version_table,
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


async def open_engine(url: str, migrations: Migrations, *, migrate: bool) -> Engine:
    """A service's engine at start: its database first brought to the newest schema when `migrate` and it is behind."""
    if migrate and not await run_in_threadpool(migrations.is_current, url):
        await run_in_threadpool(migrations.apply, url)
    return make_engine(url)
