"""SearchIndex port: products made searchable, kept current by versioned changes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from mce.services.search.domain import Product, ProductChange, ProductRemoval, ProductUpsert, SearchPage, SearchQuery


class SearchIndex(ABC):
    """Full-text, filtered and faceted search over the latest version of each product."""

    @abstractmethod
    def apply(self, changes: Sequence[ProductChange]) -> int:
        """Apply in order, in one commit, each change newer than the version held for its product; returns how many."""

    @abstractmethod
    def version_of(self, product_id: int) -> int | None:
        """The version last applied for the product, a deletion included; None if the index never saw it."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchPage:
        """One page of matching products, their total, and category counts that ignore the category filter."""

    @abstractmethod
    def is_complete(self) -> bool:
        """Whether a full load of the catalogue has finished since the index was created or last cleared."""

    @abstractmethod
    def mark_complete(self) -> None:
        """Record, durably, that the index now holds the whole catalogue."""

    @abstractmethod
    def count(self) -> int:
        """How many products are searchable."""

    @abstractmethod
    def clear(self) -> None:
        """Forget every product, every version held and the mark of completeness."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the index cannot answer searches."""

    @abstractmethod
    def close(self) -> None:
        """Release files and connections; the index is unusable afterwards."""

    def upsert(self, products: Iterable[Product]) -> int:
        """Make these products searchable unless the index holds a newer version; returns how many changed."""
        return self.apply([ProductUpsert(product) for product in products])

    def delete(self, product_id: int, version: int) -> int:
        """Remove the product unless the index holds a newer version; returns 1 if it changed, else 0."""
        return self.apply([ProductRemoval(product_id, version)])
