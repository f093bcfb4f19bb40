"""The order service's migrations build exactly the tables its adapter declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mce.kit.db import ensure_database, normalise_url
from mce.services.order.store.tables import MIGRATIONS, metadata
from tests.dbs import fresh_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'order.db'}"
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_url")) as url:
        yield url


def test_the_migrated_schema_matches_the_declared_tables(empty_url: str) -> None:
    assert not MIGRATIONS.is_current(empty_url)
    MIGRATIONS.apply(empty_url)
    assert MIGRATIONS.is_current(empty_url)
    engine = create_engine(normalise_url(empty_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": MIGRATIONS.version_table})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.postgres
def test_migrations_make_a_missing_database_on_the_server_once(postgres_url: str) -> None:
    with fresh_postgres_database(postgres_url) as url:
        missing = make_url(url).set(database=make_url(url).database + "_new").render_as_string(hide_password=False)
        try:
            MIGRATIONS.apply(missing)
            assert MIGRATIONS.is_current(missing)
            assert ensure_database(missing) is False
        finally:
            admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(missing).database}" WITH (FORCE)'))
            admin.dispose()
