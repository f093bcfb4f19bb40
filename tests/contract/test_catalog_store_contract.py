"""The catalog's use cases over its unit of work, written once and run on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import Engine, func, select

from mce.kit.errors import Conflict, Invalid, NotFound, PreconditionRequired
from mce.kit.events import Event
from mce.services.product import usecases
from mce.services.product.domain import ProductFields
from mce.services.product.store.sql import ProductUnitOfWork, SqlCatalogQueries
from mce.services.product.store.tables import MIGRATIONS, outbox, stock_movements
from tests.dbs import engine_fixtures

TABLES = "products, categories, outbox, stock_movements, idempotency_keys"


postgres_engine, engine = engine_fixtures(MIGRATIONS, TABLES)


Uow = Callable[[], ProductUnitOfWork]


@pytest.fixture
def uow(engine: Engine) -> Uow:
    with ProductUnitOfWork(engine) as work:
        for name in ("Electronics", "Books", "Office"):
            usecases.create_category(work, name=name)
    return lambda: ProductUnitOfWork(engine)


@pytest.fixture
def queries(engine: Engine) -> SqlCatalogQueries:
    return SqlCatalogQueries(engine)


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


def create(uow: Uow, **overrides: object):
    with uow() as work:
        return usecases.create_product(work, fields=fields(**overrides))


def page(queries: SqlCatalogQueries, **query: object) -> tuple[list[dict], int]:
    """A listing page, parsed."""
    documents, total = queries.page(**query)
    return orjson.loads(documents), total


def staged_events(engine: Engine) -> list[Event]:
    with engine.connect() as conn:
        return [Event.from_bytes(p) for (p,) in conn.execute(select(outbox.c.payload).order_by(outbox.c.id))]


def test_a_created_product_reads_back_exactly(uow, queries) -> None:
    created = create(uow, price=Decimal("0.10"))
    read = queries.get(created.id)
    assert read == created
    assert read.price == Decimal("0.10") and read.version == 1
    assert read.created_at.tzinfo is not None


def test_prices_stay_exact_to_the_cent(uow, queries) -> None:
    for cents in ("0.01", "19.99", "99999999.99", "1234.50"):
        assert queries.get(create(uow, price=Decimal(cents)).id).price == Decimal(cents)


def test_every_write_stages_its_event_in_the_same_transaction(uow, engine) -> None:
    product = create(uow)
    with uow() as work:
        usecases.update_product(work, product_id=product.id, changes={"price": Decimal("49.99")}, expected_version=None)
    with uow() as work:
        usecases.delete_product(work, product_id=product.id)
    staged = [e for e in staged_events(engine) if e.key == str(product.id)]
    assert [e.type for e in staged] == ["ProductCreated", "ProductUpdated", "ProductDeleted"]
    assert staged[1].data["price"] == "49.99" and staged[1].data["version"] == 2
    assert staged[2].data == {"id": product.id, "version": 3}


def test_a_failed_write_stages_no_event_and_changes_nothing(uow, engine, queries) -> None:
    product = create(uow)
    with pytest.raises(Conflict), uow() as work:
        usecases.adjust_stock(work, product_id=product.id, delta=-6, reason="sale")
    assert [e.type for e in staged_events(engine)] == ["ProductCreated"]
    assert queries.get(product.id).stock == 5


def test_a_product_needs_a_category_that_exists_whatever_its_case(uow) -> None:
    with pytest.raises(Invalid), uow() as work:
        usecases.create_product(work, fields=fields(category="Electroncs"))
    assert create(uow, category="electronics").category == "Electronics"


def test_category_names_are_unique_whatever_their_case_and_spacing(uow) -> None:
    with pytest.raises(Conflict), uow() as work:
        usecases.create_category(work, name="  BOOKS ")
    with uow() as work:
        garden = usecases.create_category(work, name="Garden")
    with pytest.raises(Conflict), uow() as work:
        usecases.rename_category(work, category_id=garden.id, name="office")


def test_renaming_a_category_changes_its_products_and_announces_them(uow, engine, queries) -> None:
    product = create(uow, category="Books")
    books = next(c for c in queries.categories() if c.name == "Books")
    with uow() as work:
        usecases.rename_category(work, category_id=books.id, name="Books & Maps")
    assert queries.get(product.id).category == "Books & Maps"
    assert queries.get(product.id).version == 2
    last = staged_events(engine)[-1]
    assert last.type == "ProductUpdated" and last.data["category"] == "Books & Maps"


def test_a_category_with_products_cannot_be_deleted(uow, queries) -> None:
    create(uow, category="Office")
    office = next(c for c in queries.categories() if c.name == "Office")
    with pytest.raises(Conflict), uow() as work:
        usecases.delete_category(work, category_id=office.id)
    books = next(c for c in queries.categories() if c.name == "Books")
    with uow() as work:
        usecases.delete_category(work, category_id=books.id)
    assert [c.name for c in queries.categories()] == ["Electronics", "Office"]


def test_update_bumps_the_version_and_keeps_other_fields(uow) -> None:
    product = create(uow)
    with uow() as work:
        updated = usecases.update_product(work, product_id=product.id, changes={"stock": 9}, expected_version=1)
    assert (updated.version, updated.stock, updated.name, updated.price) == (2, 9, product.name, product.price)
    assert updated.updated_at >= product.updated_at


def test_an_absolute_stock_without_a_version_is_refused(uow) -> None:
    product = create(uow)
    with pytest.raises(PreconditionRequired), uow() as work:
        usecases.update_product(work, product_id=product.id, changes={"stock": 9}, expected_version=None)


def test_a_stale_version_is_a_conflict_and_changes_nothing(uow, queries) -> None:
    product = create(uow)
    with uow() as work:
        usecases.update_product(work, product_id=product.id, changes={"stock": 1}, expected_version=1)
    with pytest.raises(Conflict), uow() as work:
        usecases.update_product(work, product_id=product.id, changes={"stock": 2}, expected_version=1)
    assert queries.get(product.id).stock == 1


def _race(count: int, action: Callable[[int], None]) -> list[str]:
    """Run action(n) in `count` threads at once; the outcome of each."""
    outcomes: list[str] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        start.wait()
        try:
            action(n)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_concurrent_guarded_updates_let_exactly_one_win(uow, queries) -> None:
    product = create(uow)

    def edit(n: int) -> None:
        with uow() as work:
            usecases.update_product(work, product_id=product.id, changes={"stock": n}, expected_version=1)

    assert sorted(_race(6, edit)) == ["conflict"] * 5 + ["ok"]
    assert queries.get(product.id).version == 2


def test_concurrent_stock_takes_never_oversell(uow, queries, engine) -> None:
    product = create(uow, stock=7)

    def take(n: int) -> None:
        with uow() as work:
            usecases.adjust_stock(work, product_id=product.id, delta=-1, reason=f"sale {n}")

    outcomes = _race(12, take)
    assert outcomes.count("ok") == 7 and outcomes.count("conflict") == 5
    assert queries.get(product.id).stock == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(stock_movements.c.delta))).scalar_one() == -7


def test_a_stock_change_with_a_reference_applies_once_even_when_raced(uow, queries) -> None:
    product = create(uow, stock=10)

    def reserve(_: int) -> None:
        with uow() as work:
            usecases.adjust_stock(work, product_id=product.id, delta=-3, reason="order 1", reference="order-1")

    assert _race(5, reserve) == ["ok"] * 5
    assert queries.get(product.id).stock == 7


def test_unknown_ids_are_not_found(uow, queries) -> None:
    with pytest.raises(NotFound):
        queries.get(999)
    with pytest.raises(NotFound):
        queries.get_json(999)
    with pytest.raises(NotFound), uow() as work:
        usecases.update_product(work, product_id=999, changes={"name": "x"}, expected_version=None)
    with pytest.raises(NotFound), uow() as work:
        usecases.delete_product(work, product_id=999)
    with pytest.raises(NotFound), uow() as work:
        usecases.adjust_stock(work, product_id=999, delta=1, reason="found")


def test_deleted_products_are_gone_and_ids_are_not_reused(uow, queries) -> None:
    first = create(uow)
    with uow() as work:
        usecases.delete_product(work, product_id=first.id)
    with pytest.raises(NotFound):
        queries.get(first.id)
    assert create(uow).id > first.id


def test_listing_filters_by_category_whatever_its_case_and_counts_the_whole_match(uow, queries) -> None:
    for i in range(7):
        create(uow, name=f"Book {i}", category="Books")
    create(uow, name="Lamp", category="Office")
    items, total = page(queries, category="BOOKS", sort="name", limit=3, offset=3)
    assert total == 7
    assert [p["name"] for p in items] == ["Book 3", "Book 4", "Book 5"]
    assert items[0]["price"] == "59.99" and items[0]["category"] == "Books"


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price_asc", ["b", "c", "a"]),
        ("price_desc", ["a", "c", "b"]),
        ("name", ["a", "b", "c"]),
        ("id", ["c", "a", "b"]),
        ("newest", ["b", "a", "c"]),
    ],
)
def test_listing_sorts_stably(uow, queries, sort, expected) -> None:
    create(uow, name="c", price=Decimal("5.00"))
    create(uow, name="a", price=Decimal("9.00"))
    create(uow, name="b", price=Decimal("1.00"))
    items, _ = page(queries, category=None, sort=sort, limit=10, offset=0)
    assert [p["name"] for p in items] == expected


def test_pages_never_repeat_or_skip_items_with_equal_sort_keys(uow, queries) -> None:
    with uow() as work:
        for i in range(25):
            usecases.create_product(work, fields=fields(f"P{i}", price=Decimal("1.00")))
    seen = []
    for offset in range(0, 25, 10):
        items, _ = page(queries, category=None, sort="price_asc", limit=10, offset=offset)
        seen += [p["id"] for p in items]
    assert len(seen) == len(set(seen)) == 25


def test_categories_are_counted_by_name_including_empty_ones(uow, queries) -> None:
    create(uow, category="Office")
    create(uow, category="Books")
    create(uow, category="Books")
    assert [(c.name, c.count) for c in queries.categories()] == [("Books", 2), ("Electronics", 0), ("Office", 1)]
    assert queries.count() == 3


def test_ping_answers(queries) -> None:
    queries.ping()


def test_an_idempotency_key_returns_the_first_answer_and_refuses_another_request(uow) -> None:
    with uow() as work:
        assert work.claim_key(scope="admin", key="k-1", fingerprint="a") is None
        work.record_key(scope="admin", key="k-1", status=201, body=b"{}", location="/products/1")
    with uow() as work:
        stored = work.claim_key(scope="admin", key="k-1", fingerprint="a")
    assert (stored.status, stored.body, stored.location) == (201, b"{}", "/products/1")
    with pytest.raises(Invalid), uow() as work:
        work.claim_key(scope="admin", key="k-1", fingerprint="b")
    with uow() as work:
        assert work.claim_key(scope="someone-else", key="k-1", fingerprint="b") is None


def test_a_rolled_back_write_releases_its_idempotency_key(uow) -> None:
    with pytest.raises(NotFound), uow() as work:
        work.claim_key(scope="admin", key="k-2", fingerprint="a")
        usecases.delete_product(work, product_id=12345)
    with uow() as work:
        assert work.claim_key(scope="admin", key="k-2", fingerprint="a") is None


def test_concurrent_twins_with_one_key_write_once(uow, queries) -> None:
    def create_keyed(_: int) -> None:
        with uow() as work:
            if work.claim_key(scope="admin", key="twin", fingerprint="same") is None:
                usecases.create_product(work, fields=fields("Twin"))
                work.record_key(scope="admin", key="twin", status=201, body=b"{}")

    assert _race(6, create_keyed) == ["ok"] * 6
    assert queries.count() == 1


def test_a_listed_product_is_exactly_the_product_read_alone(uow, queries) -> None:
    product = create(uow, name='Ünïcode "quoted" \\ name', description="line\nbreak", price=Decimal("1234.05"))
    with uow() as work:
        usecases.update_product(work, product_id=product.id, changes={"image_url": "/i/a.png"}, expected_version=None)
    (listed,), _ = page(queries, category=None, sort="id", limit=1, offset=0)
    assert listed == queries.get(product.id).to_json() == orjson.loads(queries.get_json(product.id))
    assert listed["price"] == "1234.05" and listed["created_at"].endswith("Z") and "." in listed["created_at"]
