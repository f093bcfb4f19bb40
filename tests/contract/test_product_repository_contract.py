"""The ProductRepository contract, written once and run on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from mce.kit.db import make_engine, migrate
from mce.kit.errors import Conflict, NotFound
from mce.kit.events import Event
from mce.services.product.domain import ProductFields, ProductSort
from mce.services.product.store.sql import SqlProductRepository
from mce.services.product.store.tables import MIGRATIONS, outbox
from tests.dbs import fresh_postgres_database


@pytest.fixture(scope="module")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """One migrated PostgreSQL database for the module; tests empty it between them."""
    with fresh_postgres_database(postgres_url) as url:
        migrate(url, MIGRATIONS)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty product database on each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'product.db'}"
        migrate(url, MIGRATIONS)
        engine = make_engine(url)
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("postgres_engine")
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE products, outbox RESTART IDENTITY"))
        yield engine


@pytest.fixture
def repo(engine: Engine) -> SqlProductRepository:
    return SqlProductRepository(engine)


def fields(name: str = "Wireless Headphones", **overrides: object) -> ProductFields:
    values = {
        "name": name,
        "description": "Good sound",
        "price": Decimal("59.99"),
        "stock": 5,
        "category": "Electronics",
    }
    values.update(overrides)
    return ProductFields(**values)


def staged_events(engine: Engine) -> list[Event]:
    with engine.connect() as conn:
        return [Event.from_bytes(p) for (p,) in conn.execute(select(outbox.c.payload).order_by(outbox.c.id))]


def test_a_created_product_reads_back_exactly(repo) -> None:
    created = repo.create(fields(price=Decimal("0.10")))
    read = repo.get(created.id)
    assert read == created
    assert read.price == Decimal("0.10") and read.version == 1
    assert read.created_at.tzinfo is not None


def test_prices_stay_exact_to_the_cent(repo) -> None:
    for cents in ("0.01", "19.99", "99999999.99", "1234.50"):
        assert repo.get(repo.create(fields(price=Decimal(cents))).id).price == Decimal(cents)


def test_every_write_stages_its_event_in_the_same_transaction(repo, engine) -> None:
    product = repo.create(fields())
    repo.update(product.id, {"price": Decimal("49.99")})
    repo.delete(product.id)
    staged = staged_events(engine)
    assert [e.type for e in staged] == ["ProductCreated", "ProductUpdated", "ProductDeleted"]
    assert {e.key for e in staged} == {str(product.id)}
    assert staged[1].data["price"] == 49.99 and staged[1].data["version"] == 2
    assert staged[2].data == {"id": product.id, "version": 3}


def test_a_failed_write_stages_no_event(repo, engine) -> None:
    product = repo.create(fields())
    with pytest.raises(Conflict):
        repo.update(product.id, {"stock": -1})
    assert [e.type for e in staged_events(engine)] == ["ProductCreated"]
    assert repo.get(product.id).stock == 5


def test_update_bumps_the_version_and_keeps_other_fields(repo) -> None:
    product = repo.create(fields())
    updated = repo.update(product.id, {"stock": 9})
    assert (updated.version, updated.stock, updated.name, updated.price) == (2, 9, product.name, product.price)
    assert updated.updated_at >= product.updated_at


def test_a_stale_version_is_a_conflict_and_changes_nothing(repo) -> None:
    product = repo.create(fields())
    repo.update(product.id, {"stock": 1}, expected_version=1)
    with pytest.raises(Conflict):
        repo.update(product.id, {"stock": 2}, expected_version=1)
    assert repo.get(product.id).stock == 1


def test_concurrent_guarded_updates_let_exactly_one_win(repo) -> None:
    product = repo.create(fields())
    outcomes: list[str] = []

    def edit(stock: int) -> None:
        try:
            repo.update(product.id, {"stock": stock}, expected_version=1)
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["won"]
    assert repo.get(product.id).version == 2


def test_unknown_ids_are_not_found(repo) -> None:
    with pytest.raises(NotFound):
        repo.get(999)
    with pytest.raises(NotFound):
        repo.update(999, {"stock": 1})
    with pytest.raises(NotFound):
        repo.delete(999)


def test_deleted_products_are_gone_and_ids_are_not_reused(repo) -> None:
    first = repo.create(fields())
    repo.delete(first.id)
    with pytest.raises(NotFound):
        repo.get(first.id)
    assert repo.create(fields()).id > first.id


def test_listing_filters_by_category_and_counts_the_whole_match(repo) -> None:
    repo.create_many([fields(f"Book {i}", category="Books") for i in range(7)] + [fields("Lamp", category="Office")])
    items, total = repo.list(category="Books", sort=ProductSort.NAME, limit=3, offset=3)
    assert total == 7
    assert [p.name for p in items] == ["Book 3", "Book 4", "Book 5"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (ProductSort.PRICE_ASC, ["b", "c", "a"]),
        (ProductSort.PRICE_DESC, ["a", "c", "b"]),
        (ProductSort.NAME, ["a", "b", "c"]),
        (ProductSort.ID, ["c", "a", "b"]),
        (ProductSort.NEWEST, ["b", "a", "c"]),
    ],
)
def test_listing_sorts_stably(repo, sort, expected) -> None:
    repo.create(fields("c", price=Decimal("5.00")))
    repo.create(fields("a", price=Decimal("9.00")))
    repo.create(fields("b", price=Decimal("1.00")))
    items, _ = repo.list(category=None, sort=sort, limit=10, offset=0)
    assert [p.name for p in items] == expected


def test_pages_never_repeat_or_skip_items_with_equal_sort_keys(repo) -> None:
    repo.create_many([fields(f"P{i}", price=Decimal("1.00")) for i in range(25)])
    seen = []
    for offset in range(0, 25, 10):
        items, _ = repo.list(category=None, sort=ProductSort.PRICE_ASC, limit=10, offset=offset)
        seen += [p.id for p in items]
    assert len(seen) == len(set(seen)) == 25


def test_categories_are_counted_by_name(repo) -> None:
    repo.create_many([fields(category="Office"), fields(category="Books"), fields(category="Books")])
    assert repo.categories() == [("Books", 2), ("Office", 1)]
    assert repo.count() == 3


def test_create_many_stages_one_event_per_product(repo, engine) -> None:
    assert repo.create_many([fields(f"P{i}") for i in range(50)]) == 50
    assert len(staged_events(engine)) == 50


def test_ping_answers(repo) -> None:
    repo.ping()
