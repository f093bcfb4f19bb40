"""Catalog rules and the product's events; no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from mce.kit.events import Event

PRODUCTS_TOPIC = "products"
MAX_PRICE = Decimal("99999999.99")
MAX_STOCK = 1_000_000_000
NAME_MAX = 255
DESCRIPTION_MAX = 5000
CATEGORY_MAX = 64
URL_MAX = 2048


class ProductSort(StrEnum):
    """Orders a product listing can take; every order ends with id so pages are stable."""

    NEWEST = "newest"
    NAME = "name"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    ID = "id"


@dataclass(frozen=True)
class Product:
    """A product as the catalog stores it."""

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
        """The product as events and APIs carry it: price as a 2-decimal number, times in ISO 8601."""
        data = asdict(self)
        data["price"] = float(self.price)
        data["created_at"] = self.created_at.isoformat().replace("+00:00", "Z")
        data["updated_at"] = self.updated_at.isoformat().replace("+00:00", "Z")
        return data


@dataclass(frozen=True)
class ProductFields:
    """The editable fields of a product, already validated."""

    name: str
    description: str
    price: Decimal
    stock: int
    category: str
    image_url: str | None = None
    thumbnail_url: str | None = None


EDITABLE_FIELDS = frozenset(ProductFields.__dataclass_fields__)


def product_created(product: Product) -> Event:
    """The event for a new product."""
    return Event(type="ProductCreated", key=str(product.id), data=product.to_json())


def product_updated(product: Product) -> Event:
    """The event for a changed product, carrying its full new state."""
    return Event(type="ProductUpdated", key=str(product.id), data=product.to_json())


def product_deleted(product: Product) -> Event:
    """The event for a removed product; version is one past the last state so it supersedes it."""
    return Event(type="ProductDeleted", key=str(product.id), data={"id": product.id, "version": product.version + 1})


def normalise_category(raw: str) -> str:
    """Collapse inner whitespace so 'Home  &  Kitchen' and 'Home & Kitchen' are one category."""
    return " ".join(raw.split())
