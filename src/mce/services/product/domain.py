"""Catalog rules and the product's events; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mce.kit.contracts import PRODUCT_CREATED, PRODUCT_DELETED, PRODUCT_UPDATED, STOCK_MAX, ProductSort
from mce.kit.errors import Conflict, Invalid, PreconditionRequired, problem
from mce.kit.events import Event
from mce.kit.money import format_amount

__all__ = ["ProductSort"]

# The fields an admin edits; stock is among them, but only with the version it was read at.
EDITABLE_FIELDS = frozenset({"name", "description", "price", "stock", "category", "image_url"})


@dataclass(frozen=True)
class Product:
    """A product as the catalog stores it; `category` is its category's name."""

    id: int
    name: str
    description: str
    price: Decimal
    stock: int
    category: str
    image_url: str | None
    thumbnail_url: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    def to_json(self) -> dict[str, Any]:
        """The product as APIs answer with it and events carry it: the price as an exact decimal string."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "price": format_amount(self.price),
            "stock": self.stock,
            "category": self.category,
            "image_url": self.image_url,
            "thumbnail_url": self.thumbnail_url,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "version": self.version,
        }


def _iso(moment: datetime) -> str:
    """UTC, always with microseconds, as the listing's SQL writes it too."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ProductFields:
    """The editable fields of a new product, already validated; `category` is a category's name."""

    name: str
    description: str
    price: Decimal
    stock: int
    category: str
    image_url: str | None = None


@dataclass(frozen=True)
class Category:
    """A managed category and how many products it holds."""

    id: int
    name: str
    count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The category as the API answers with it."""
        return {"id": self.id, "name": self.name, "count": self.count}


def check_changes(changes: dict[str, Any], expected_version: int | None) -> None:
    """Refuse changes an admin may not make: unknown fields, or an absolute stock without the version it was read at."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise Invalid(
            f"cannot change {', '.join(sorted(unknown))}",
            details=[problem(f, "cannot be changed") for f in sorted(unknown)],
        )
    if "stock" in changes and expected_version is None:
        # An absolute stock written from a stale read would undo every sale since: make the edit conditional.
        raise PreconditionRequired(
            'changing stock needs the version you read (send "version"), or adjust it by a delta instead',
            details=[problem("version", "required when stock is given")],
        )


def stock_after(product: Product, delta: int) -> int:
    """The stock a delta leaves, or Conflict when it would go below zero or above the maximum."""
    after = product.stock + delta
    if after < 0:
        raise Conflict(
            f"only {product.stock} of product {product.id} in stock; cannot take {-delta}",
            details=[problem("delta", f"only {product.stock} in stock")],
        )
    if after > STOCK_MAX:
        raise Conflict(
            f"stock of product {product.id} would exceed {STOCK_MAX}", details=[problem("delta", "too large")]
        )
    return after


def product_created(product: Product) -> Event:
    """The event for a new product."""
    return Event(type=PRODUCT_CREATED, key=str(product.id), data=product.to_json())


def product_updated(product: Product) -> Event:
    """The event for a changed product, carrying its full new state."""
    return Event(type=PRODUCT_UPDATED, key=str(product.id), data=product.to_json())


def product_deleted(product: Product) -> Event:
    """The event for a removed product; version is one past the last state so it supersedes it."""
    return Event(type=PRODUCT_DELETED, key=str(product.id), data={"id": product.id, "version": product.version + 1})
