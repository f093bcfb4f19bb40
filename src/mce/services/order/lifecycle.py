"""An order's statuses, the moves between them, and which moves staff may make by hand; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from mce.kit.errors import Conflict, Invalid, problem


class Status(StrEnum):
    """Where an order is in its life."""

    CREATED = "created"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


# From each status, the statuses an order may move to next; cancelled and refunded are final.
NEXT: Mapping[Status, tuple[Status, ...]] = MappingProxyType(
    {
        Status.CREATED: (Status.PAID, Status.CANCELLED),
        # Cancelling is possible until the parcel leaves; after payment, money goes back by a refund.
        Status.PAID: (Status.SHIPPED, Status.CANCELLED, Status.REFUNDED),
        Status.SHIPPED: (Status.DELIVERED, Status.REFUNDED),
        Status.DELIVERED: (Status.REFUNDED,),
        Status.CANCELLED: (),
        Status.REFUNDED: (),
    }
)

# The moves staff make by hand. created -> paid is missing on purpose: only an approved payment marks an order paid.
STAFF_MOVES: frozenset[tuple[Status, Status]] = frozenset(
    {
        (Status.PAID, Status.SHIPPED),
        (Status.SHIPPED, Status.DELIVERED),
        (Status.CREATED, Status.CANCELLED),
        (Status.PAID, Status.CANCELLED),
        (Status.PAID, Status.REFUNDED),
        (Status.SHIPPED, Status.REFUNDED),
        (Status.DELIVERED, Status.REFUNDED),
    }
)


@dataclass(frozen=True)
class StatusChange:
    """One move of an order from a status to the next, when it happened and why."""

    from_status: Status
    to_status: Status
    at: datetime
    reason: str | None = None


def as_status(value: str) -> Status:
    """The status a string names, or Invalid listing the statuses there are."""
    try:
        return Status(value)
    except ValueError:
        known = ", ".join(Status)
        raise Invalid(
            f"unknown order status {value!r}; one of: {known}", details=[problem("status", f"must be one of: {known}")]
        ) from None


def allowed_next(status: Status | str) -> tuple[Status, ...]:
    """The statuses an order in this status may move to; empty when it is final."""
    return NEXT[as_status(status)]


def staff_may(from_status: Status | str, to_status: Status | str) -> bool:
    """Whether staff may make this move by hand (the checkout flow makes the others)."""
    return (as_status(from_status), as_status(to_status)) in STAFF_MOVES


def transition(
    order_status: Status | str, to: Status | str, *, at: datetime, reason: str | None = None
) -> StatusChange:
    """The change moving an order from its status to `to`, or Conflict naming both and what is allowed instead."""
    current, target = as_status(order_status), as_status(to)
    if at.tzinfo is None or at.utcoffset() is None:
        # A naive time means a different moment on every machine that reads it back.
        raise ValueError("a status change needs a timezone-aware time")
    allowed = NEXT[current]
    if target not in allowed:
        options = f"it may only become {', '.join(allowed)}" if allowed else f"{current} is final: nothing follows it"
        raise Conflict(
            f"an order that is {current} cannot become {target}: {options}",
            details=[problem("status", options)],
        )
    return StatusChange(from_status=current, to_status=target, at=at, reason=reason)
