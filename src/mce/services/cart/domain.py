"""Cart rules and the cart's events; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import orjson

from mce.kit.contracts import (
    CART_LINES_MAX,
    CART_QUANTITY_MAX,
    CART_QUANTITY_MIN,
    MAX_ID,
    SHOPPER_KEY_MAX,
    SHOPPER_KEY_PATTERN,
    check_shopper_key,
)
from mce.kit.errors import Conflict, Invalid, NotFound, problem
from mce.kit.events import Event
from mce.kit.money import CENTS, MoneyError, format_amount, parse_amount

# The limits of a cart, in one place: the schemas, the domain and the tests read them from here.
CART_ID_MAX = SHOPPER_KEY_MAX
CART_ID_PATTERN = SHOPPER_KEY_PATTERN
QUANTITY_MIN = CART_QUANTITY_MIN
QUANTITY_MAX = CART_QUANTITY_MAX
LINES_MAX = CART_LINES_MAX

CARTS_TOPIC = "carts"
CART_ITEM_ADDED = "CartItemAdded"
CART_ITEM_QUANTITY_CHANGED = "CartItemQuantityChanged"
CART_ITEM_REMOVED = "CartItemRemoved"
CART_CLEARED = "CartCleared"
CARTS_MERGED = "CartsMerged"


class StaleVersion(Conflict):
    """A conditional write lost a race: the cart changed since it was read. Read again and retry."""


class OutOfStock(Conflict):
    """The catalog does not hold as many of the product as the cart would."""

    code = "out_of_stock"


@dataclass(frozen=True)
class CatalogProduct:
    """What the cart needs to know of a product: the catalog's current name, price and stock."""

    product_id: int
    name: str
    price: Decimal
    stock: int


@dataclass(frozen=True)
class CartLine:
    """One product in a cart, at the price the catalog asked when it was added."""

    product_id: int
    name: str
    quantity: int
    price: Decimal

    @property
    def subtotal(self) -> Decimal:
        """Price times quantity, exactly."""
        return (self.price * self.quantity).quantize(CENTS)

    def to_json(self) -> dict[str, Any]:
        """The line as the API answers with it and the store keeps it: money as exact decimal strings."""
        return {
            "product_id": self.product_id,
            "name": self.name,
            "quantity": self.quantity,
            "price": format_amount(self.price),
            "subtotal": format_amount(self.subtotal),
        }


@dataclass(frozen=True)
class Cart:
    """A shopper's cart; version 0 is a cart never written, and each write adds one."""

    cart_id: str
    items: tuple[CartLine, ...] = ()
    user_id: str | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def total(self) -> Decimal:
        """The sum of the lines, exactly; the server computes it, never the client."""
        return sum((line.subtotal for line in self.items), Decimal("0.00")).quantize(CENTS)

    def line(self, product_id: int) -> CartLine | None:
        """The line holding this product, if any."""
        return next((line for line in self.items if line.product_id == product_id), None)

    @cached_property
    def encoded(self) -> bytes:
        """to_json as JSON bytes, made once: a write stores them and its answer sends the same."""
        return orjson.dumps(self.to_json())

    def to_json(self) -> dict[str, Any]:
        """The cart as the API answers with it and the store keeps it."""
        return {
            "cart_id": self.cart_id,
            "user_id": self.user_id,
            "items": [line.to_json() for line in self.items],
            "total": format_amount(self.total),
            "updated_at": None if self.updated_at is None else _iso(self.updated_at),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Cart:
        """A cart from what to_json wrote; computed fields (subtotals, total) are computed again, not trusted."""
        items = tuple(
            CartLine(int(item["product_id"]), str(item["name"]), int(item["quantity"]), Decimal(item["price"]))
            for item in document["items"]
        )
        updated = document.get("updated_at")
        return cls(
            cart_id=str(document["cart_id"]),
            items=items,
            user_id=document.get("user_id"),
            updated_at=None if updated is None else datetime.fromisoformat(updated),
            version=int(document["version"]),
        )


def _iso(moment: datetime) -> str:
    """UTC with microseconds, so every timestamp has one length and sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_cart_id(cart_id: str) -> str:
    """The cart id as given, or Invalid: 1 to 64 letters, digits, '-' or '_'."""
    return check_shopper_key(cart_id, "cart_id")


def check_product_id(product_id: int) -> int:
    """The product id as given, or Invalid when it is outside the catalog's id range."""
    if isinstance(product_id, bool) or not isinstance(product_id, int) or not 1 <= product_id <= MAX_ID:
        raise Invalid(
            f"a product id is a whole number from 1 to {MAX_ID}",
            details=[problem("product_id", f"must be a whole number from 1 to {MAX_ID}")],
        )
    return product_id


def check_quantity(quantity: int, field: str = "quantity") -> int:
    """The quantity as given, or Invalid naming the field when it is outside 1..99 (0 is a removal, not a quantity)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not QUANTITY_MIN <= quantity <= QUANTITY_MAX:
        hint = "; remove the item instead" if quantity == 0 and not isinstance(quantity, bool) else ""
        raise Invalid(
            f"{field} must be a whole number from {QUANTITY_MIN} to {QUANTITY_MAX}{hint}",
            details=[problem(field, f"must be from {QUANTITY_MIN} to {QUANTITY_MAX}{hint}")],
        )
    return quantity


def _check_price(price: Decimal) -> Decimal:
    """A catalog price as the kit's money reads it: exact, not negative, two decimals."""
    try:
        return parse_amount(price)
    except MoneyError as exc:
        raise Invalid(f"price {exc}", details=[problem("price", str(exc))]) from None


def _missing_line(cart: Cart, product_id: int) -> NotFound:
    return NotFound(
        f"product {product_id} is not in cart {cart.cart_id}",
        details=[problem("product_id", "not in the cart")],
    )


def _written(cart: Cart, items: tuple[CartLine, ...], now: datetime) -> Cart:
    """The cart after one write: new lines, the time, and the next version."""
    return replace(cart, items=items, updated_at=now, version=cart.version + 1)


def _event(kind: str, cart: Cart, now: datetime, **data: Any) -> Event:
    """A cart event keyed by the cart, so one cart's events keep their order on the topic."""
    payload = {"cart_id": cart.cart_id, "user_id": cart.user_id, **data, "cart_version": cart.version}
    return Event(type=kind, key=cart.cart_id, occurred_at=now, data=payload)


def add_item(cart: Cart, product: CatalogProduct, quantity: int, now: datetime) -> tuple[Cart, Event]:
    """Put quantity of the product in the cart (added to its line if it has one), at the catalog's name and price."""
    check_quantity(quantity)
    price = _check_price(product.price)
    existing = cart.line(product.product_id)
    if existing is None:
        if len(cart.items) >= LINES_MAX:
            raise Invalid(
                f"a cart holds at most {LINES_MAX} different products",
                details=[problem("product_id", f"the cart already holds {LINES_MAX} different products")],
            )
        line_quantity = quantity
    else:
        line_quantity = existing.quantity + quantity
        if line_quantity > QUANTITY_MAX:
            raise Invalid(
                f"the cart already holds {existing.quantity} of product {product.product_id}; "
                f"a line holds at most {QUANTITY_MAX}",
                details=[problem("quantity", f"at most {QUANTITY_MAX - existing.quantity} more can be added")],
            )
    check_stock(product, line_quantity)
    line = CartLine(product.product_id, product.name, line_quantity, price)
    if existing is None:
        items = (*cart.items, line)
    else:
        items = tuple(line if item.product_id == product.product_id else item for item in cart.items)
    after = _written(cart, items, now)
    event = _event(
        CART_ITEM_ADDED,
        after,
        now,
        product_id=product.product_id,
        name=product.name,
        quantity=quantity,
        line_quantity=line_quantity,
        price=format_amount(price),
    )
    return after, event


def check_stock(product: CatalogProduct, quantity: int) -> None:
    """OutOfStock when the catalog holds fewer of the product than the cart would."""
    if quantity > product.stock:
        held = f"only {product.stock} in stock" if product.stock else "out of stock"
        raise OutOfStock(
            f"{product.name} (product {product.product_id}) is {held}; the cart would hold {quantity}",
            details=[problem("quantity", held)],
        )


def change_quantity(cart: Cart, product_id: int, quantity: int, now: datetime) -> tuple[Cart, Event]:
    """Set the quantity of a line already in the cart; NotFound when the product is not in it."""
    check_quantity(quantity)
    existing = cart.line(product_id)
    if existing is None:
        raise _missing_line(cart, product_id)
    line = replace(existing, quantity=quantity)
    after = _written(cart, tuple(line if item.product_id == product_id else item for item in cart.items), now)
    event = _event(
        CART_ITEM_QUANTITY_CHANGED,
        after,
        now,
        product_id=product_id,
        quantity=quantity,
        previous_quantity=existing.quantity,
        price=format_amount(existing.price),
    )
    return after, event


def remove_item(cart: Cart, product_id: int, now: datetime) -> tuple[Cart, Event]:
    """Take a product's line out of the cart; NotFound when it is not in it."""
    existing = cart.line(product_id)
    if existing is None:
        raise _missing_line(cart, product_id)
    after = _written(cart, tuple(item for item in cart.items if item.product_id != product_id), now)
    event = _event(
        CART_ITEM_REMOVED,
        after,
        now,
        product_id=product_id,
        quantity=existing.quantity,
        price=format_amount(existing.price),
    )
    return after, event


def clear(cart: Cart, now: datetime) -> tuple[Cart, Event]:
    """Empty the cart; the event lists what it held."""
    after = _written(cart, (), now)
    held = [{"product_id": i.product_id, "quantity": i.quantity, "price": format_amount(i.price)} for i in cart.items]
    return after, _event(CART_CLEARED, after, now, items=held)


def merge(target: Cart, source: Cart, now: datetime) -> tuple[Cart, Event]:
    """The target cart with the source's lines added (a visitor's cart joining their account's at sign-in).

    A product in both adds up to the line limit; lines beyond the cart's limit of lines stay out, and the event
    says which. Prices are kept as they are: checkout prices every order from the catalog anyway.
    """
    items = list(target.items)
    moved: list[dict[str, Any]] = []
    left_out: list[int] = []
    for line in source.items:
        index = next((i for i, item in enumerate(items) if item.product_id == line.product_id), None)
        if index is not None:
            items[index] = replace(items[index], quantity=min(QUANTITY_MAX, items[index].quantity + line.quantity))
        elif len(items) < LINES_MAX:
            items.append(line)
        else:
            left_out.append(line.product_id)
            continue
        moved.append({"product_id": line.product_id, "quantity": line.quantity})
    after = _written(target, tuple(items), now)
    return after, _event(CARTS_MERGED, after, now, from_cart_id=source.cart_id, moved=moved, left_out=left_out)
