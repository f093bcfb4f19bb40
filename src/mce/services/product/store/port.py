"""ProductRepository port: the catalog's storage, which stages a change event with every write."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from mce.services.product.domain import Product, ProductFields, ProductSort


class ProductRepository(ABC):
    """Stores products; every write commits its event to the outbox in the same transaction."""

    @abstractmethod
    def create(self, fields: ProductFields) -> Product:
        """Insert a product at version 1 and stage ProductCreated."""

    @abstractmethod
    def create_many(self, batch: Sequence[ProductFields]) -> int:
        """Insert many products in one transaction, staging one ProductCreated each; returns the count."""

    @abstractmethod
    def get(self, product_id: int) -> Product:
        """The product; raises NotFound."""

    @abstractmethod
    def update(self, product_id: int, changes: dict[str, Any], *, expected_version: int | None = None) -> Product:
        """Apply changes, bump the version, stage ProductUpdated; raises NotFound, or Conflict on a stale version."""

    @abstractmethod
    def delete(self, product_id: int) -> None:
        """Remove the product and stage ProductDeleted; raises NotFound."""

    @abstractmethod
    def list(self, *, category: str | None, sort: ProductSort, limit: int, offset: int) -> tuple[list[Product], int]:
        """A page of products in the given order, and how many match in all."""

    @abstractmethod
    def categories(self) -> list[tuple[str, int]]:
        """Every category with its product count, by name."""

    @abstractmethod
    def count(self) -> int:
        """How many products there are."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the database does not answer."""
