"""Orders as the service keeps them, the events they raise and the errors checkout answers with; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from mce.kit.contracts import check_shopper_key
from mce.kit.errors import DomainError
from mce.kit.events import Event
from mce.kit.money import format_amount
from mce.services.order.lifecycle import Status, StatusChange
from mce.services.order.schemas import OrderRead

# The gateway's cart key for a shopper, `account-<id>` or `guest-<id>`: the same rule as a cart id.


class PaymentDeclined(DomainError):
    """The card was refused; nothing was charged."""

    status = 402
    code = "payment_declined"


def check_owner(owner: str) -> str:
    """The owner key, or Invalid when it is not 1 to 64 letters, digits, '-' or '_'."""
    return check_shopper_key(owner, "owner")


@dataclass(frozen=True)
class OrderLine:
    """One product in an order: how many, and the price it was bought for."""

    product_id: int
    name: str
    quantity: int
    price: Decimal

    def to_json(self) -> dict[str, Any]:
        """The line as events carry it."""
        return {
            "product_id": self.product_id,
            "name": self.name,
            "quantity": self.quantity,
            "price": format_amount(self.price),
        }


@dataclass(frozen=True)
class HistoryEntry:
    """A status the order reached, when and why."""

    status: Status
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Order:
    """An order with its lines and every status it went through, oldest first."""

    id: int
    owner: str
    status: Status
    items: tuple[OrderLine, ...]
    total_amount: Decimal
    created_at: datetime
    shipping_address: dict[str, str]
    payment_brand: str | None = None
    payment_last4: str | None = None
    history: tuple[HistoryEntry, ...] = field(default=())

    def to_read(self) -> OrderRead:
        """The order as the API answers with it."""
        payment = {"brand": self.payment_brand, "last4": self.payment_last4} if self.payment_last4 else None
        return OrderRead.model_validate(
            {
                "id": self.id,
                "status": self.status,
                "items": [line.__dict__ for line in self.items],
                "total_amount": self.total_amount,
                "created_at": self.created_at,
                "shipping_address": self.shipping_address,
                "payment": payment,
                "history": [entry.__dict__ for entry in self.history],
            }
        )

    def to_json(self) -> dict[str, Any]:
        """The API's JSON for the order."""
        return self.to_read().model_dump(mode="json")


def event_type(status: Status) -> str:
    """The event an order reaching this status raises: OrderCreated, OrderPaid, OrderShipped, ..."""
    return f"Order{status.value.capitalize()}"


def status_event(order: Order, change: StatusChange | None = None) -> Event:
    """The event for an order that just reached its status, with its lines and total."""
    at = change.at if change else order.created_at
    return Event(
        type=event_type(order.status),
        key=str(order.id),
        occurred_at=at,
        data={
            "order_id": order.id,
            "owner": order.owner,
            "status": order.status.value,
            "previous_status": change.from_status.value if change else None,
            "reason": change.reason if change else None,
            "total_amount": format_amount(order.total_amount),
            "currency": "USD",
            "items": [line.to_json() for line in order.items],
        },
    )


def claimed_event(order_id: int, from_owner: str, to_owner: str) -> Event:
    """The event for an order that moved from a guest to an account."""
    return Event(
        type="OrderClaimed",
        key=str(order_id),
        data={"order_id": order_id, "from_owner": from_owner, "to_owner": to_owner},
    )
