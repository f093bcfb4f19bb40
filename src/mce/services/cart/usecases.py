"""The cart's use cases: each write reads the cart, changes it and writes it back on condition, retrying lost races."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from mce.kit.errors import Conflict, Invalid, problem
from mce.kit.events import Event
from mce.services.cart import domain
from mce.services.cart.domain import Cart, CatalogProduct, StaleVersion
from mce.services.cart.store.port import CartStore

log = logging.getLogger(__name__)

# Each failed attempt lost to a write that succeeded, so ten in a row means a cart under heavy contention.
MAX_ATTEMPTS = 10
# Losers wait a random slice of a growing window before reading again, so they do not collide again in step.
# The window grows from the longer of BACKOFF_S and one attempt's own time: a store that answers slowly (DynamoDB
# behind a busy network, moto on a loaded machine) spreads its writers as widely, in attempts, as a fast one.
BACKOFF_S = 0.002
BACKOFF_MAX_S = 0.25

Change = Callable[[Cart, datetime], tuple[Cart, Event] | None]
# Runs one blocking attempt for an async caller: on its loop, or on a worker thread.
Runner = Callable[[Callable[[], Cart]], Awaitable[Cart]]


class Catalog(Protocol):
    """Where the cart learns a product's current name, price and stock."""

    def product(self, product_id: int) -> CatalogProduct | None:
        """The product as the catalog has it now, or None when there is no such product; Unavailable if unreachable."""
        ...


def get_cart(store: CartStore, *, cart_id: str) -> Cart:
    """The cart; one never written reads as an empty cart at version 0."""
    domain.check_cart_id(cart_id)
    return store.get(cart_id) or Cart(cart_id=cart_id)


def add_item(store: CartStore, catalog: Catalog, *, cart_id: str, product_id: int, quantity: int) -> Cart:
    """Add quantity of a product at the catalog's current name and price; a product already in the cart adds up."""
    domain.check_cart_id(cart_id)
    domain.check_product_id(product_id)
    domain.check_quantity(quantity)
    known = _known(catalog.product(product_id), product_id)
    return _write(store, cart_id, lambda cart, now: domain.add_item(cart, known, quantity, now))


async def add_looked_up_item(
    store: CartStore,
    product: CatalogProduct | None,
    run: Runner,
    *,
    cart_id: str,
    product_id: int,
    quantity: int,
) -> Cart:
    """`add_item` for an async caller that asked the catalog on its loop (None: no such product).

    Each attempt runs through `run`, and a lost race waits on the loop, never on a thread or the loop's own time.
    """
    domain.check_cart_id(cart_id)
    domain.check_product_id(product_id)
    domain.check_quantity(quantity)
    known = _known(product, product_id)
    attempt = _attempt(store, cart_id, lambda cart, now: domain.add_item(cart, known, quantity, now))
    for number in range(1, MAX_ATTEMPTS + 1):
        began = time.monotonic()
        try:
            return await run(attempt)
        except StaleVersion:
            if number == MAX_ATTEMPTS:
                break
            await asyncio.sleep(_backoff(number, time.monotonic() - began))
    raise _gave_up(cart_id)


def change_quantity(store: CartStore, catalog: Catalog, *, cart_id: str, product_id: int, quantity: int) -> Cart:
    """Set the quantity of a product in the cart; a larger one must be in stock (0 is refused: remove the item)."""
    domain.check_cart_id(cart_id)
    domain.check_product_id(product_id)
    domain.check_quantity(quantity)
    cart = get_cart(store, cart_id=cart_id)
    line = cart.line(product_id)
    if line is not None and quantity > line.quantity:
        domain.check_stock(_known(catalog.product(product_id), product_id), quantity)
    return _write(store, cart_id, lambda cart, now: domain.change_quantity(cart, product_id, quantity, now))


def remove_item(store: CartStore, *, cart_id: str, product_id: int) -> Cart:
    """Take a product out of the cart; NotFound when it is not in it."""
    domain.check_cart_id(cart_id)
    domain.check_product_id(product_id)
    return _write(store, cart_id, lambda cart, now: domain.remove_item(cart, product_id, now))


def clear_cart(store: CartStore, *, cart_id: str) -> Cart:
    """Empty the cart; clearing an empty or unknown cart changes nothing and says nothing."""
    domain.check_cart_id(cart_id)
    return _write(store, cart_id, lambda cart, now: domain.clear(cart, now) if cart.items else None)


def _known(product: CatalogProduct | None, product_id: int) -> CatalogProduct:
    """The catalog's product, or Invalid: a cart cannot hold what the catalog does not sell."""
    if product is None:
        raise Invalid(
            f"there is no product {product_id} in the catalog",
            details=[problem("product_id", f"no product with id {product_id}")],
        )
    return product


def merge_carts(store: CartStore, *, cart_id: str, from_cart_id: str) -> Cart:
    """Move the lines of one cart into another and remove the first, both or neither (a visitor signing in)."""
    domain.check_cart_id(cart_id)
    domain.check_cart_id(from_cart_id)
    if cart_id == from_cart_id:
        return get_cart(store, cart_id=cart_id)

    def attempt() -> Cart:
        source = store.get(from_cart_id)
        target = get_cart(store, cart_id=cart_id)
        if source is None:
            return target
        merged, event = domain.merge(target, source, datetime.now(UTC))
        return store.save_merged(
            merged,
            expected_version=target.version or None,
            absorbed_id=source.cart_id,
            absorbed_version=source.version,
            events=[event],
        )

    return _retrying(cart_id, attempt)


def _write(store: CartStore, cart_id: str, change: Change) -> Cart:
    """Read, change and write back on the version read; on a lost race read again, a bounded number of times."""
    return _retrying(cart_id, _attempt(store, cart_id, change))


def _attempt(store: CartStore, cart_id: str, change: Change) -> Callable[[], Cart]:
    """One read, change and conditional write; StaleVersion when another write came between."""

    def attempt() -> Cart:
        cart = get_cart(store, cart_id=cart_id)
        changed = change(cart, datetime.now(UTC))
        if changed is None:
            return cart
        after, event = changed
        return store.save(after, expected_version=cart.version or None, events=[event])

    return attempt


def _retrying(cart_id: str, attempt: Callable[[], Cart]) -> Cart:
    """Run an attempt that reads and writes on condition, again after each lost race, a bounded number of times."""
    for number in range(1, MAX_ATTEMPTS + 1):
        began = time.monotonic()
        try:
            return attempt()
        except StaleVersion:
            if number == MAX_ATTEMPTS:
                break
            time.sleep(_backoff(number, time.monotonic() - began))
    raise _gave_up(cart_id)


def _backoff(number: int, took: float) -> float:
    """Seconds to wait after the numbered lost race: a random slice of a window that doubles each time."""
    return random.uniform(0, min(BACKOFF_MAX_S, max(BACKOFF_S, took) * 2**number))


def _gave_up(cart_id: str) -> Conflict:
    log.warning("cart %s: gave up after %d conflicting writes", cart_id, MAX_ATTEMPTS)
    return Conflict(f"cart {cart_id} is being changed by many requests at once; try again")
