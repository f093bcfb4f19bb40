"""Idempotency keys: a retried write returns the first answer instead of being applied again.

The key is claimed in the same transaction as the write it guards, so the write and its stored answer commit
together or not at all. A twin request that arrives while the first is running waits for it on PostgreSQL (the
key's primary key) and on SQLite (one writer at a time), then gets the stored answer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from mce.kit.errors import BadRequest, Conflict, Invalid, problem

HEADER = "Idempotency-Key"
KEY_MAX = 200
KEEP_FOR = timedelta(days=1)


def idempotency_table(metadata: MetaData) -> Table:
    """The table a service declares in its own metadata and migrations."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(200), nullable=False),
        Column("key", String(KEY_MAX), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("status", Integer, nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("location", String(2048), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
        PrimaryKeyConstraint("scope", "key", name="idempotency_keys_pk"),
    )


def checked_key(raw: str | None) -> str | None:
    """The header's key, or BadRequest when it is not 1 to 200 printable ASCII characters."""
    if raw is None:
        return None
    if not 1 <= len(raw) <= KEY_MAX or not raw.isascii() or not raw.isprintable():
        raise BadRequest(
            f"{HEADER} must be 1 to {KEY_MAX} printable ASCII characters",
            details=[problem(HEADER, f"1 to {KEY_MAX} printable ASCII characters")],
        )
    return raw


def new_key() -> str:
    """A fresh key: for a write its caller did not key, or a form about to be drawn (submitted twice, applied once)."""
    return secrets.token_urlsafe(18)


async def header_key(
    key: Annotated[
        str | None,
        Header(alias=HEADER, description="Send a write again with the same key to get its first answer"),
    ] = None,
) -> str | None:
    """The request's Idempotency-Key header, checked: a FastAPI dependency."""
    return checked_key(key)


HeaderKey = Annotated[str | None, Depends(header_key)]


def fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests the same request: method, path and the body as validated."""
    canonical = orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """The answer the first request with a key got."""

    status: int
    body: bytes
    location: str | None = None


@cache
def _claim_statement(dialect: str, table: Table) -> Any:
    """Insert the key unless it exists, returning it when inserted; built once per table."""
    insert = postgres_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=["scope", "key"]).returning(table.c.key)


@cache
def _record_statement(table: Table) -> Any:
    """Store a key's answer; built once per table."""
    where = (table.c.scope == bindparam("k_scope"), table.c.key == bindparam("k_key"))
    return update(table).where(*where)


def claim(conn: Connection, table: Table, *, scope: str, key: str, fingerprint: str) -> StoredResponse | None:
    """Reserve the key for this request; the first request's answer when the key was used before.

    Raises Invalid (422) when the key was used for a different request, Conflict (409) when its first request
    has not finished (possible only where a claim commits before its work, e.g. a multi-step checkout).
    """
    values = {"scope": scope, "key": key, "fingerprint": fingerprint, "created_at": datetime.now(UTC)}
    inserted = conn.execute(_claim_statement(conn.dialect.name, table), values).first()
    if inserted is not None:
        return None
    row = conn.execute(select(table).where(table.c.scope == scope, table.c.key == key)).one()
    if row.fingerprint != fingerprint:
        raise Invalid(
            f"this {HEADER} was already used for a different request",
            details=[problem(HEADER, "already used for a different request; use a new key")],
        )
    if row.status is None:
        raise Conflict(f"the first request with this {HEADER} is still running; retry shortly")
    return StoredResponse(row.status, row.body or b"", row.location)


def record(
    conn: Connection, table: Table, *, scope: str, key: str, status: int, body: bytes, location: str | None = None
) -> None:
    """Store the answer for the claimed key, in the same transaction as the write."""
    values = {"k_scope": scope, "k_key": key, "status": status, "body": body, "location": location}
    conn.execute(_record_statement(table), values)


def purge_keys(conn: Connection, table: Table, older_than: timedelta = KEEP_FOR) -> int:
    """Forget keys older than any client would retry with."""
    return conn.execute(delete(table).where(table.c.created_at < datetime.now(UTC) - older_than)).rowcount
