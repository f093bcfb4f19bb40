"""The CartStore contract, written once and run against every adapter: SQLite always, PostgreSQL and DynamoDB if up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mce.kit.errors import Conflict
from mce.kit.events import Event
from mce.services.cart import domain
from mce.services.cart.domain import CARTS_TOPIC, Cart, CatalogProduct
from mce.services.cart.store.port import CartStore
from tests.cart_stores import CartBackend, cart_backend_fixtures

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PEN = CatalogProduct(product_id=7, name="Pen", price=Decimal("0.10"), stock=50)


postgres_engine, backend = cart_backend_fixtures()


@pytest.fixture
def store(backend: CartBackend) -> CartStore:
    return backend.open()


@pytest.fixture
def staged(backend: CartBackend) -> Callable[[], list[tuple[str, Event]]]:
    """The outbox's (topic, event)s in write order."""
    return backend.staged


def with_pens(cart: Cart, quantity: int = 3) -> tuple[Cart, Event]:
    return domain.add_item(cart, PEN, quantity, NOW)


def created(store: CartStore, cart_id: str = "session-1") -> Cart:
    cart, event = with_pens(Cart(cart_id=cart_id))
    return store.save(cart, expected_version=None, events=[event])


def test_a_missing_cart_reads_as_none(store) -> None:
    assert store.get("nobody") is None


def test_a_created_cart_reads_back_exactly_at_version_1(store) -> None:
    saved = created(store)
    read = store.get("session-1")
    assert saved.version == 1
    assert read == saved
    assert read.items[0].price == Decimal("0.10") and read.total == Decimal("0.30")
    assert read.updated_at == NOW


def test_creating_a_cart_that_exists_is_a_conflict_and_changes_nothing(store, staged) -> None:
    first = created(store)
    again, event = with_pens(Cart(cart_id="session-1"), quantity=9)
    with pytest.raises(Conflict):
        store.save(again, expected_version=None, events=[event])
    assert store.get("session-1") == first
    assert len(staged()) == 1


def test_a_write_on_the_version_read_stores_the_next_version(store) -> None:
    first = created(store)
    changed, event = domain.change_quantity(first, PEN.product_id, 5, NOW)
    saved = store.save(changed, expected_version=1, events=[event])
    assert saved.version == 2
    assert store.get("session-1") == saved
    assert store.get("session-1").items[0].quantity == 5


def test_a_write_on_a_stale_version_is_a_conflict_and_changes_nothing(store, staged) -> None:
    first = created(store)
    store.save(domain.change_quantity(first, PEN.product_id, 5, NOW)[0], expected_version=1)
    stale, event = domain.change_quantity(first, PEN.product_id, 8, NOW)
    with pytest.raises(Conflict):
        store.save(stale, expected_version=1, events=[event])
    assert store.get("session-1").items[0].quantity == 5
    assert store.get("session-1").version == 2
    assert [e.type for _, e in staged()] == [domain.CART_ITEM_ADDED]


def test_a_write_to_a_cart_never_created_is_a_conflict(store) -> None:
    cart, event = with_pens(Cart(cart_id="ghost"))
    with pytest.raises(Conflict):
        store.save(cart, expected_version=1, events=[event])
    assert store.get("ghost") is None


def test_events_are_written_with_the_document_on_the_carts_topic(store, staged) -> None:
    cart, event = with_pens(Cart(cart_id="session-1"))
    store.save(cart, expected_version=None, events=[event])
    assert staged() == [(CARTS_TOPIC, event)]


def test_events_of_a_refused_write_are_never_staged(store, staged) -> None:
    created(store)
    events_before = staged()
    cart, event = with_pens(Cart(cart_id="session-1"))
    with pytest.raises(Conflict):
        store.save(cart, expected_version=None, events=[event])
    with pytest.raises(Conflict):
        store.save(cart, expected_version=5, events=[event])
    assert staged() == events_before


def test_a_committed_write_with_events_tells_the_relay(backend) -> None:
    woken: list[bool] = []
    store = backend.open(lambda: woken.append(True))
    created(store)
    assert woken == [True]


def test_carts_are_independent_of_one_another(store) -> None:
    created(store, "a")
    created(store, "b")
    store.save(domain.clear(store.get("a"), NOW)[0], expected_version=1)
    assert store.get("a").items == () and store.get("a").version == 2
    assert store.get("b").total == Decimal("0.30") and store.get("b").version == 1


def test_delete_on_the_version_read_removes_the_cart_with_its_events(store, staged) -> None:
    cart = created(store)
    _, event = domain.clear(cart, NOW)
    store.delete("session-1", expected_version=1, events=[event])
    assert store.get("session-1") is None
    assert staged()[-1] == (CARTS_TOPIC, event)


def test_delete_on_a_stale_version_or_a_missing_cart_is_a_conflict(store, staged) -> None:
    created(store)
    with pytest.raises(Conflict):
        store.delete("session-1", expected_version=2)
    with pytest.raises(Conflict):
        store.delete("nobody", expected_version=1)
    assert store.get("session-1").version == 1
    assert len(staged()) == 1


def test_a_deleted_cart_can_be_created_again(store) -> None:
    created(store)
    store.delete("session-1", expected_version=1)
    assert created(store).version == 1


def test_the_store_answers_a_ping(store) -> None:
    store.ping()


def test_a_merged_save_writes_the_cart_and_drops_the_absorbed_one_together(store, staged) -> None:
    guest = created(store, "guest-1")
    account = created(store, "account-1")
    merged, event = domain.merge(account, guest, NOW)
    stored = store.save_merged(
        merged, expected_version=account.version, absorbed_id="guest-1", absorbed_version=guest.version, events=[event]
    )
    assert store.get("guest-1") is None
    assert store.get("account-1") == stored and stored.line(PEN.product_id).quantity == 6
    assert [e.type for _, e in staged()][-1] == domain.CARTS_MERGED


def test_a_merged_save_on_a_stale_absorbed_cart_changes_neither(store, staged) -> None:
    guest = created(store, "guest-1")
    account = created(store, "account-1")
    merged, event = domain.merge(account, guest, NOW)
    before = len(staged())
    with pytest.raises(Conflict):
        store.save_merged(
            merged,
            expected_version=account.version,
            absorbed_id="guest-1",
            absorbed_version=guest.version + 1,
            events=[event],
        )
    assert store.get("account-1") == account and store.get("guest-1") == guest
    assert len(staged()) == before
