"""The frontend's own data on SQLAlchemy: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Dialect, Engine, bindparam, delete, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from mce.kit.db import driver_cursor, translated_errors, write_transaction
from mce.kit.errors import Conflict, TooManyRequests
from mce.services.frontend.store.port import Account, AccountStore, SessionStore, StoredSession
from mce.services.frontend.store.tables import accounts, auth_failures, sessions

WHAT = "frontend database"

# Built once, the key bound at execution: every request with a cookie loads its session (8 % of the gateway's
# samples on add-to-cart under py-spy), and building the statement and its cache key was about 3 of those 8.
_LOAD_SESSION = select(sessions.c.data, sessions.c.created_at, sessions.c.last_seen_at).where(
    sessions.c.key_hash == bindparam("key_hash")
)


@cache
def _load_session_sql(dialect: Dialect) -> tuple[str, Callable[[Any], datetime]]:
    """The session read compiled to the driver's SQL, and how a timestamp it returns becomes a datetime.

    The conversion is SQLAlchemy's own for the column's type (SQLite keeps timestamps as text; psycopg returns
    datetimes), so a session reads back exactly as through a Connection.
    """
    processor = sessions.c.created_at.type.dialect_impl(dialect).result_processor(dialect, None)
    return str(_LOAD_SESSION.compile(dialect=dialect)), processor or (lambda value: value)


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class SqlSessionStore(SessionStore):
    """Sessions in the frontend's database, shared by every replica."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgres_insert if engine.dialect.name == "postgresql" else sqlite_insert

    def load(self, key_hash: str) -> StoredSession | None:
        # Every request with a cookie loads its session: on a driver cursor, SQL compiled once (kit.db.driver_cursor).
        sql, moment = _load_session_sql(self.engine.dialect)
        values = (key_hash,) if self.engine.dialect.positional else {"key_hash": key_hash}
        with driver_cursor(self.engine, WHAT) as cursor:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        if row is None:
            return None
        data, created_at, last_seen_at = row
        return StoredSession(orjson.loads(data), _utc(moment(created_at)), _utc(moment(last_seen_at)))

    def save(self, key_hash: str, session: StoredSession) -> None:
        values = {
            "data": orjson.dumps(session.data).decode(),
            "created_at": session.created_at,
            "last_seen_at": session.last_seen_at,
        }
        statement = self._insert(sessions).values(key_hash=key_hash, **values)
        statement = statement.on_conflict_do_update(index_elements=["key_hash"], set_=values)
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            conn.execute(statement)

    def update(self, key_hash: str, session: StoredSession) -> bool:
        values = {"data": orjson.dumps(session.data).decode(), "last_seen_at": session.last_seen_at}
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(sessions).where(sessions.c.key_hash == key_hash).values(**values).returning(sessions.c.key_hash)
            ).first()
        return changed is not None

    def delete(self, key_hash: str) -> None:
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.key_hash == key_hash))

    def purge(self, *, unused_since: datetime, created_before: datetime) -> int:
        old = or_(sessions.c.last_seen_at < unused_since, sessions.c.created_at < created_before)
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            return conn.execute(delete(sessions).where(old)).rowcount

    def ping(self) -> None:
        with translated_errors(WHAT), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


# A client found in good standing is not looked up again for this long: an admin's every API call would otherwise
# cost a database read. Another replica's lock-out reaches this one within this time.
CLEAN_FOR_S = 1.0
MAX_CLEAN_CLIENTS = 10_000


class SqlAttemptLimiter:
    """Failed sign-ins per client in a fixed window, counted in the shared database so replicas agree."""

    def __init__(self, engine: Engine, *, max_failures: int, window_s: float) -> None:
        self.engine = engine
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_s)
        self._insert = postgres_insert if engine.dialect.name == "postgresql" else sqlite_insert
        self._clean_until: dict[str, float] = {}

    def check(self, client: str) -> None:
        """Raise TooManyRequests, with the seconds to wait, while the client is locked out."""
        now = time.monotonic()
        if self._clean_until.get(client, 0.0) > now:
            return
        with translated_errors(WHAT), self.engine.connect() as conn:
            row = conn.execute(select(auth_failures).where(auth_failures.c.client == client[:100])).first()
        if row is None or row.failures < self.max_failures:
            if len(self._clean_until) >= MAX_CLEAN_CLIENTS:
                self._clean_until.clear()
            self._clean_until[client] = now + CLEAN_FOR_S
            return
        wait = (_utc(row.window_started_at) + self.window - datetime.now(UTC)).total_seconds()
        if wait > 0:
            raise TooManyRequests("too many failed sign-ins; wait before trying again", retry_after_s=int(wait) + 1)

    def failed(self, client: str) -> None:
        """Count one failed attempt, starting a new window when the last one has passed."""
        self._clean_until.pop(client, None)
        now = datetime.now(UTC)
        key = client[:100]
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            conn.execute(
                self._insert(auth_failures)
                .values(client=key, window_started_at=now, failures=0)
                .on_conflict_do_nothing(index_elements=["client"])
            )
            row = conn.execute(select(auth_failures).where(auth_failures.c.client == key)).one()
            if now - _utc(row.window_started_at) >= self.window:
                values = {"window_started_at": now, "failures": 1}
            else:
                values = {"failures": auth_failures.c.failures + 1}
            conn.execute(update(auth_failures).where(auth_failures.c.client == key).values(**values))

    def purge(self) -> int:
        """Forget windows that have passed."""
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            cutoff = datetime.now(UTC) - self.window
            return conn.execute(delete(auth_failures).where(auth_failures.c.window_started_at < cutoff)).rowcount


def _account(row) -> Account:  # noqa: ANN001 - a Row
    return Account(row.id, row.email, row.name, row.password_hash, _utc(row.created_at))


class SqlAccountStore(AccountStore):
    """Accounts in the frontend's database; the unique email key settles two sign-ups racing for one address."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, *, email: str, email_key: str, name: str, password_hash: str, now: datetime) -> Account:
        values = {"email": email, "email_key": email_key, "name": name, "password_hash": password_hash}
        try:
            with translated_errors(WHAT), write_transaction(self.engine) as conn:
                account_id = conn.execute(
                    insert(accounts).values(created_at=now, **values).returning(accounts.c.id)
                ).scalar_one()
        except (Conflict, IntegrityError) as exc:
            raise Conflict("an account with this email exists; sign in instead") from exc
        return Account(account_id, email, name, password_hash, now)

    def find(self, email_key: str) -> Account | None:
        with translated_errors(WHAT), self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.email_key == email_key)).first()
        return None if row is None else _account(row)

    def get(self, account_id: int) -> Account | None:
        with translated_errors(WHAT), self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        return None if row is None else _account(row)

    def set_password_hash(self, account_id: int, password_hash: str) -> None:
        with translated_errors(WHAT), write_transaction(self.engine) as conn:
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(password_hash=password_hash))
