"""The cart's use cases over a real store and a fake catalog: the catalog's price wins, no concurrent add is lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from starlette.concurrency import run_in_threadpool

from mce.kit.db import on_the_loop
from mce.kit.errors import Conflict, Invalid, NotFound, Unavailable
from mce.services.cart import usecases
from mce.services.cart.domain import CatalogProduct, OutOfStock, StaleVersion
from mce.services.cart.store.port import CartStore
from mce.services.cart.store.sql import SqlCartStore
from tests.cart_stores import CartBackend, cart_backend_fixtures


class FakeCatalog:
    """Products by id, with their current name, price and stock; it can be down."""

    def __init__(self, count: int = 30, *, price: str = "0.10", stock: int = 100) -> None:
        self.products = {i: CatalogProduct(i, f"Product {i}", Decimal(price), stock) for i in range(1, count + 1)}
        self.down = False

    def product(self, product_id: int) -> CatalogProduct | None:
        if self.down:
            raise Unavailable("product service is unavailable", service="product")
        return self.products.get(product_id)


postgres_engine, backend = cart_backend_fixtures()


@pytest.fixture
def store(backend: CartBackend) -> CartStore:
    return backend.open()


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


def outbox_size(backend: CartBackend) -> int:
    return len(backend.staged())


def in_threads(count: int, work: Callable[[int], object]) -> list[BaseException]:
    """Run work(0..count-1) in as many threads released at once; the errors they raised."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_twenty_concurrent_adds_of_different_products_all_land(store, catalog) -> None:
    errors = in_threads(20, lambda i: usecases.add_item(store, catalog, cart_id="busy", product_id=i + 1, quantity=1))
    cart = usecases.get_cart(store, cart_id="busy")
    assert errors == []
    assert sorted(line.product_id for line in cart.items) == list(range(1, 21))
    assert cart.version == 20  # one version per write, the first at 1
    assert cart.total == Decimal("2.00")


def test_twenty_concurrent_adds_of_one_product_add_up(store, catalog, backend) -> None:
    errors = in_threads(20, lambda _: usecases.add_item(store, catalog, cart_id="busy", product_id=3, quantity=1))
    cart = usecases.get_cart(store, cart_id="busy")
    assert errors == []
    assert [(line.product_id, line.quantity) for line in cart.items] == [(3, 20)]
    assert cart.version == 20  # one version per write, the first at 1
    assert outbox_size(backend) == 20


def add_async(store: CartStore, catalog: FakeCatalog, run, product_id: int, cart_id: str = "busy"):  # noqa: ANN001, ANN201
    """The cart route's add: the catalog asked first, each attempt through `run`."""
    return usecases.add_looked_up_item(
        store, catalog.product(product_id), run, cart_id=cart_id, product_id=product_id, quantity=1
    )


@pytest.mark.parametrize("run", [run_in_threadpool, on_the_loop], ids=["on-workers", "on-the-loop"])
def test_twenty_concurrent_async_adds_of_one_product_add_up(store, catalog, backend, run) -> None:
    async def twenty() -> None:
        await asyncio.gather(*(add_async(store, catalog, run, 3) for _ in range(20)))

    asyncio.run(twenty())
    cart = usecases.get_cart(store, cart_id="busy")
    assert [(line.product_id, line.quantity) for line in cart.items] == [(3, 20)]
    assert cart.version == 20
    assert outbox_size(backend) == 20


def test_an_async_add_refuses_an_unknown_product_before_writing(store, catalog) -> None:
    with pytest.raises(Invalid) as refused:
        asyncio.run(add_async(store, catalog, on_the_loop, 999))
    assert refused.value.details[0]["field"] == "product_id"
    assert usecases.get_cart(store, cart_id="busy").version == 0


def test_a_never_written_cart_reads_as_empty_at_version_0(store) -> None:
    cart = usecases.get_cart(store, cart_id="new-shopper")
    assert (cart.items, cart.total, cart.version) == ((), Decimal("0.00"), 0)


def test_an_added_item_takes_the_catalogs_name_and_price(store, catalog) -> None:
    catalog.products[4] = CatalogProduct(4, "Stapler", Decimal("19.90"), 5)
    cart = usecases.add_item(store, catalog, cart_id="c1", product_id=4, quantity=2)
    assert [(line.name, line.price, line.quantity) for line in cart.items] == [("Stapler", Decimal("19.90"), 2)]
    assert cart.total == Decimal("39.80")
    assert usecases.get_cart(store, cart_id="c1") == cart


def test_an_unknown_product_is_refused_naming_the_field(store, catalog) -> None:
    with pytest.raises(Invalid) as refused:
        usecases.add_item(store, catalog, cart_id="c1", product_id=999, quantity=1)
    assert "no product 999" in refused.value.message
    assert refused.value.details[0]["field"] == "product_id"
    assert store.get("c1") is None


def test_more_than_the_stock_is_refused_as_out_of_stock(store, catalog) -> None:
    catalog.products[4] = CatalogProduct(4, "Stapler", Decimal("19.90"), 3)
    usecases.add_item(store, catalog, cart_id="c1", product_id=4, quantity=2)
    with pytest.raises(OutOfStock) as refused:
        usecases.add_item(store, catalog, cart_id="c1", product_id=4, quantity=2)
    assert refused.value.code == "out_of_stock" and refused.value.status == 409
    assert "only 3 in stock" in refused.value.message
    assert usecases.get_cart(store, cart_id="c1").items[0].quantity == 2


def test_raising_a_quantity_above_the_stock_is_refused(store, catalog) -> None:
    catalog.products[4] = CatalogProduct(4, "Stapler", Decimal("19.90"), 3)
    usecases.add_item(store, catalog, cart_id="c1", product_id=4, quantity=1)
    with pytest.raises(OutOfStock):
        usecases.change_quantity(store, catalog, cart_id="c1", product_id=4, quantity=4)
    lowered = usecases.change_quantity(store, catalog, cart_id="c1", product_id=4, quantity=3)
    assert lowered.items[0].quantity == 3 and lowered.version == 2


def test_a_catalog_that_is_down_refuses_adds_but_not_reads_or_removals(store, catalog) -> None:
    usecases.add_item(store, catalog, cart_id="c1", product_id=1, quantity=1)
    catalog.down = True
    with pytest.raises(Unavailable):
        usecases.add_item(store, catalog, cart_id="c1", product_id=2, quantity=1)
    assert usecases.remove_item(store, cart_id="c1", product_id=1).items == ()


def test_removing_or_changing_a_product_not_in_the_cart_is_not_found(store, catalog) -> None:
    with pytest.raises(NotFound):
        usecases.remove_item(store, cart_id="c1", product_id=1)
    with pytest.raises(NotFound):
        usecases.change_quantity(store, catalog, cart_id="c1", product_id=1, quantity=2)


def test_clearing_empties_the_cart_once_and_an_empty_cart_stays_unwritten(store, catalog, backend) -> None:
    assert usecases.clear_cart(store, cart_id="c1").version == 0
    usecases.add_item(store, catalog, cart_id="c1", product_id=1, quantity=2)
    cleared = usecases.clear_cart(store, cart_id="c1")
    assert (cleared.items, cleared.version) == ((), 2)
    assert usecases.clear_cart(store, cart_id="c1").version == 2
    assert outbox_size(backend) == 2


def test_a_bad_cart_id_is_refused_before_anything_is_read(store, catalog) -> None:
    catalog.down = True
    with pytest.raises(Invalid) as refused:
        usecases.add_item(store, catalog, cart_id="../etc", product_id=1, quantity=1)
    assert refused.value.details[0]["field"] == "cart_id"


class FailingStore(SqlCartStore):
    """A store on which every write fails with one error (StaleVersion: every write loses its race)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.saves = 0

    def get(self, cart_id: str):  # noqa: ANN201
        return None

    def save(self, cart, *, expected_version, events=()):  # noqa: ANN001, ANN201
        self.saves += 1
        raise self.error


def test_a_cart_that_keeps_losing_races_gives_up_with_a_conflict(catalog) -> None:
    store = FailingStore(StaleVersion("stale"))
    with pytest.raises(Conflict) as gave_up:
        usecases.add_item(store, catalog, cart_id="c1", product_id=1, quantity=1)
    assert store.saves == usecases.MAX_ATTEMPTS
    assert "try again" in gave_up.value.message


def test_an_async_add_that_keeps_losing_races_waits_on_the_loop_and_gives_up(catalog) -> None:
    store = FailingStore(StaleVersion("stale"))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    async def add_while_ticking() -> None:
        running = asyncio.create_task(ticker())
        try:
            await add_async(store, catalog, on_the_loop, 1, cart_id="c1")
        finally:
            running.cancel()

    with pytest.raises(Conflict) as gave_up:
        asyncio.run(add_while_ticking())
    assert store.saves == usecases.MAX_ATTEMPTS
    assert "try again" in gave_up.value.message
    # The backoff between attempts (hundreds of ms in all) let the loop run: a time.sleep would have frozen it.
    assert ticks >= 5


def test_a_conflict_that_is_not_a_lost_race_is_not_retried(catalog) -> None:
    store = FailingStore(Conflict("the change breaks a rule of the cart database"))
    with pytest.raises(Conflict, match="breaks a rule"):
        usecases.add_item(store, catalog, cart_id="c1", product_id=1, quantity=1)
    assert store.saves == 1


def test_a_visitors_cart_joins_the_accounts_at_sign_in_and_is_gone(store, catalog) -> None:
    usecases.add_item(store, catalog, cart_id="guest-a", product_id=1, quantity=2)
    usecases.add_item(store, catalog, cart_id="guest-a", product_id=2, quantity=1)
    usecases.add_item(store, catalog, cart_id="account-7", product_id=1, quantity=1)
    merged = usecases.merge_carts(store, cart_id="account-7", from_cart_id="guest-a")
    assert {line.product_id: line.quantity for line in merged.items} == {1: 3, 2: 1}
    assert store.get("guest-a") is None
    again = usecases.merge_carts(store, cart_id="account-7", from_cart_id="guest-a")
    assert again == merged


def test_merging_into_a_cart_never_made_creates_it(store, catalog) -> None:
    usecases.add_item(store, catalog, cart_id="guest-a", product_id=1, quantity=2)
    merged = usecases.merge_carts(store, cart_id="account-7", from_cart_id="guest-a")
    assert merged.version == 1 and [line.quantity for line in merged.items] == [2]
