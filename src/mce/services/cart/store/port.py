"""The cart's storage port: one document per cart, written only when its version is the one the writer read.

It mirrors DynamoDB's conditional writes, so the embedded store and the production one keep the same promises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from mce.kit.events import Event
from mce.services.cart.domain import Cart, StaleVersion  # noqa: F401 - named by the contracts


class CartStore(ABC):
    """Carts by cart_id, each with a version; a write and its events commit together or not at all."""

    @abstractmethod
    def get(self, cart_id: str) -> Cart | None:
        """The stored cart with its version, or None when there is none."""

    @abstractmethod
    def save(self, cart: Cart, *, expected_version: int | None, events: Sequence[Event] = ()) -> Cart:
        """Create (expected_version None) or replace the cart at version expected+1, events too; else StaleVersion."""

    @abstractmethod
    def delete(self, cart_id: str, *, expected_version: int, events: Sequence[Event] = ()) -> None:
        """Remove the cart with its events if its version is expected_version; StaleVersion otherwise or if none."""

    @abstractmethod
    def save_merged(
        self,
        cart: Cart,
        *,
        expected_version: int | None,
        absorbed_id: str,
        absorbed_version: int,
        events: Sequence[Event],
    ) -> Cart:
        """Save the cart as `save` does and drop the absorbed cart at its version, together; else StaleVersion."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store does not answer."""
