"""The product schema's migrations carry a foundation-era catalog forward, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mce.kit.db import make_engine, migrate, normalise_url
from mce.services.product import usecases
from mce.services.product.domain import ProductFields
from mce.services.product.store.sql import ProductUnitOfWork, SqlCatalogQueries
from mce.services.product.store.tables import MIGRATIONS
from tests.dbs import fresh_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'product.db'}"
    else:
        with fresh_postgres_database(request.getfixturevalue("postgres_url")) as url:
            yield url


def test_a_foundation_catalog_keeps_its_products_and_gains_managed_categories(empty_url: str) -> None:
    migrate(empty_url, MIGRATIONS.script_location, "0001")
    assert not MIGRATIONS.is_current(empty_url)
    raw = create_engine(normalise_url(empty_url))
    now = datetime.now(UTC)
    with raw.begin() as conn:
        for name, category in (("Atlas", "Books"), ("Novel", "books "), ("Lamp", "Office"), ("Gone", "Office")):
            conn.execute(
                text(
                    "INSERT INTO products (name, description, price, stock, category, created_at, updated_at, version)"
                    " VALUES (:name, '', 1, 1, :category, :now, :now, 1)"
                ),
                {"name": name, "category": category, "now": now},
            )
        conn.execute(text("DELETE FROM products WHERE name = 'Gone'"))
    raw.dispose()

    MIGRATIONS.apply(empty_url)
    assert MIGRATIONS.is_current(empty_url)
    engine = make_engine(empty_url)
    try:
        queries = SqlCatalogQueries(engine)
        assert [(c.name, c.count) for c in queries.categories()] == [("Books", 2), ("Office", 1)]
        assert {queries.get(i).category for i in (1, 2)} == {"Books"}
        with ProductUnitOfWork(engine) as uow:
            fields = ProductFields(name="New", description="", price=1, stock=0, category="office")
            # Ids are never reused, even the deleted one's (4), across the migration's table rebuild.
            assert usecases.create_product(uow, fields=fields).id == 5
    finally:
        engine.dispose()
