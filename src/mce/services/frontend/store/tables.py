"""SQL tables of the frontend's own database; migrations create them, the adapters query them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

from mce.kit.db import Migrations

MIGRATIONS = Migrations(Path(__file__).parent.parent / "migrations", "alembic_version_frontend")

metadata = MetaData()

# One row per live session. The cookie holds a random token; only its keyed hash is stored, so the table alone
# cannot be used to take over a session.
sessions = Table(
    "sessions",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, index=True),
)

# Failed sign-ins per client in the current window, shared by every frontend replica.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("client", String(100), primary_key=True),
    Column("window_started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("failures", Integer, nullable=False),
)

# Shoppers' accounts. The email is kept as typed for display and, normalised, as the unique key to sign in with;
# the password only as its Argon2id hash.
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email_key", String(254), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("name", String(100), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
