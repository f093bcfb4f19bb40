"""The order service's storage ports: the repository used inside a unit of work, and the queries that serve reads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from mce.services.order.domain import Order, OrderLine
from mce.services.order.lifecycle import StatusChange


class OrderRepository(ABC):
    """Orders inside one unit of work; nothing is visible to others until it commits."""

    @abstractmethod
    def add(
        self, *, owner: str, items: Sequence[OrderLine], total: Decimal, shipping_address: dict[str, str], now: datetime
    ) -> Order:
        """A new order, `created`, with its lines and the first entry of its history."""

    @abstractmethod
    def get(self, order_id: int, *, lock: bool = False) -> Order:
        """The order as this transaction sees it (locked against other writers when asked); raises NotFound."""

    @abstractmethod
    def set_prices(self, order_id: int, items: Sequence[OrderLine], total: Decimal) -> None:
        """Replace the lines' prices and the total (checkout learns the prices it charges from the reservation)."""

    @abstractmethod
    def set_payment(self, order_id: int, *, brand: str, last4: str, reference: str) -> None:
        """Keep what may be kept of the card that paid: its brand, last four digits and the payment reference."""

    @abstractmethod
    def move(self, order_id: int, change: StatusChange) -> Order:
        """Store the order's new status and the change in its history; returns the order as it is now."""

    @abstractmethod
    def reassign(self, from_owner: str, to_owner: str) -> list[int]:
        """Give every order of `from_owner` to `to_owner`; returns the ids moved."""


class OrderQueries(ABC):
    """Reads on pooled connections; each read sees one committed state."""

    @abstractmethod
    def get(self, order_id: int) -> Order:
        """One order with its lines and history; raises NotFound."""

    @abstractmethod
    def page(self, *, owner: str | None, limit: int, offset: int) -> tuple[list[Order], int]:
        """Orders newest first (one owner's, or everyone's for None) and how many there are in all."""

    @abstractmethod
    def ping(self) -> None:
        """Raise Unavailable unless the database answers."""
