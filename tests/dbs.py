"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database migrated from scratch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from mce.kit.db import Migrations, make_engine, normalise_url


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


@contextmanager
def migrated_engine(
    request: pytest.FixtureRequest, tmp_path: Path, migrations: Migrations, tables: str
) -> Iterator[Engine]:
    """A migrated, empty database on the engine the test is parametrised with ("sqlite" or "postgres").

    PostgreSQL's database is made once per module (the `postgres_engine` fixture) and emptied for each test.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'service.db'}"
        migrations.apply(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    engine = request.getfixturevalue("postgres_engine")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
    yield engine


@contextmanager
def migrated_postgres(postgres_url: str, migrations: Migrations) -> Iterator[Engine]:
    """One migrated PostgreSQL database, for a module's tests to share."""
    with fresh_postgres_database(postgres_url) as url:
        migrations.apply(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def engine_fixtures(migrations: Migrations, tables: str) -> tuple[Any, Any]:
    """A contract test module's two fixtures: `postgres_engine` (one migrated database per module) and `engine`.

    `engine` is parametrised over SQLite and PostgreSQL, emptied of `tables` for each test; a module binds both:
    `postgres_engine, engine = engine_fixtures(MIGRATIONS, "carts, outbox")`.
    """

    @pytest.fixture(scope="module")
    def postgres_engine(postgres_url: str) -> Iterator[Engine]:
        with migrated_postgres(postgres_url, migrations) as engine:
            yield engine

    @pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
    def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
        with migrated_engine(request, tmp_path, migrations, tables) as engine:
            yield engine

    return postgres_engine, engine
