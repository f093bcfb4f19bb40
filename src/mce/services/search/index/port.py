"""SearchIndex port: products made searchable, kept current by versioned changes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from mce.services.search.domain import Product, ProductChange, ProductRemoval, ProductUpsert, SearchPage, SearchQuery

# The consumer group of an index that every replica of the service shares.
SHARED_GROUP = "search"


class SearchIndex(ABC):
    """Full-text, filtered and faceted search over the latest version of each product.

    Which consumer group follows the `products` topic depends on who owns the index. An index local to one
    replica (tantivy, in the replica's own directory) needs every product event, so each one uses a group of its
    own, `search-<replica id>`, where the id is random, kept with the index, and new whenever the index is new or
    cleared: a new index then also replays the events the bus still holds. An index all replicas share
    (OpenSearch) uses the one group `search`, so the replicas split the events between them. Either way events
    arrive at least once and out of order across products; `apply`'s version check makes that harmless.
    """

    # Whether calls wait on the network (a server's index): the service then makes them off its event loop.
    remote: bool = False

    @abstractmethod
    def consumer_group(self) -> str:
        """The consumer group that feeds this index product events: `search-<replica id>` if local, else `search`."""

    @abstractmethod
    def apply(self, changes: Sequence[ProductChange]) -> int:
        """Apply in order, in one commit, each change newer than the version held for its product; returns how many."""

    @abstractmethod
    def version_of(self, product_id: int) -> int | None:
        """The version last applied for the product, a deletion included; None if the index never saw it."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchPage:
        """A page of matches, their total, category counts that ignore the category filter, and the query's hint."""

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
        """Forget every product, every version held and the mark of completeness; a local index also gets a new id."""

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
