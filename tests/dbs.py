"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database migrated from scratch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mce.kit.db import normalise_url


@contextmanager
def fresh_postgres_database(base_url: str) -> Iterator[str]:
    """Create an empty database beside base_url's, yield its URL, drop it afterwards."""
    name = f"mce_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(base_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
