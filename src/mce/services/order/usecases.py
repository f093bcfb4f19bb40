"""The order service's use cases: plain functions over a unit of work, which commits a change and its events together.

Checkout spans several services, so it is a sequence of units of work with calls to cart, product and payment
between them (see checkout.py); each step here is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from mce.kit.contracts import ORDERS_TOPIC
from mce.kit.errors import Conflict, NotFound
from mce.services.order import lifecycle
from mce.services.order.domain import Order, OrderLine, check_owner, claimed_event, status_event
from mce.services.order.lifecycle import Status
from mce.services.order.payment import PaymentResult
from mce.services.order.store.port import OrderQueries
from mce.services.order.store.sql import OrderUnitOfWork


def create_order(
    uow: OrderUnitOfWork, *, owner: str, items: Sequence[OrderLine], shipping_address: dict[str, str]
) -> Order:
    """A new order, `created`, with its lines, and its OrderCreated event."""
    total = sum((line.price * line.quantity for line in items), Decimal("0.00"))
    order = uow.orders.add(
        owner=owner, items=items, total=total, shipping_address=shipping_address, now=datetime.now(UTC)
    )
    uow.emit(ORDERS_TOPIC, status_event(order))
    uow.moved(None, order.status)
    return order


def _move(uow: OrderUnitOfWork, order: Order, to: Status, reason: str | None) -> Order:
    """Store the move of an order to `to` with its time, and emit its event."""
    change = lifecycle.transition(order.status, to, at=datetime.now(UTC), reason=reason)
    moved = uow.orders.move(order.id, change)
    uow.emit(ORDERS_TOPIC, status_event(moved, change))
    uow.moved(change.from_status, change.to_status)
    return moved


def mark_paid(
    uow: OrderUnitOfWork, *, order_id: int, items: Sequence[OrderLine], total: Decimal, payment: PaymentResult | None
) -> Order:
    """The order priced as charged and `paid`, with its OrderPaid event; `payment` is None for a free order."""
    order = uow.orders.get(order_id, lock=True)
    uow.orders.set_prices(order_id, items, total)
    if payment is not None:
        uow.orders.set_payment(order_id, brand=payment.brand, last4=payment.last4, reference=payment.reference)
    return _move(uow, uow.orders.get(order.id), Status.PAID, None)


def cancel_order(uow: OrderUnitOfWork, *, order_id: int, reason: str) -> Order:
    """The order `cancelled` with the reason, and its OrderCancelled event."""
    return _move(uow, uow.orders.get(order_id, lock=True), Status.CANCELLED, reason)


def change_status(uow: OrderUnitOfWork, *, order_id: int, to: Status | str, reason: str | None = None) -> Order:
    """A move staff make by hand; Conflict for a move the lifecycle or staff may not make.

    Nothing goes back to stock when staff cancel or refund: a paid order's stock came out when it was paid, and
    putting it back (or refunding the card) is left to people for now.
    """
    order = uow.orders.get(order_id, lock=True)
    target = lifecycle.as_status(to)
    if not lifecycle.staff_may(order.status, target):
        # The lifecycle's own refusal says what is allowed; a move it allows but staff may not is payment's alone.
        lifecycle.transition(order.status, target, at=datetime.now(UTC))
        raise Conflict(f"an order becomes {target} only through checkout, not by hand")
    return _move(uow, order, target, reason)


def claim_orders(uow: OrderUnitOfWork, *, from_owner: str, to_owner: str) -> list[int]:
    """Give a guest's orders to an account (at sign-in); returns the ids moved, each announced."""
    check_owner(from_owner)
    check_owner(to_owner)
    if from_owner == to_owner:
        return []
    moved = uow.orders.reassign(from_owner, to_owner)
    for order_id in moved:
        uow.emit(ORDERS_TOPIC, claimed_event(order_id, from_owner, to_owner))
    return moved


def owners_order(queries: OrderQueries, *, order_id: int, owner: str) -> Order:
    """The order if it is this owner's; NotFound otherwise, exactly as for an order that does not exist."""
    try:
        order = queries.get(order_id)
    except NotFound:
        order = None
    if order is None or order.owner != owner:
        raise NotFound(f"order {order_id} not found")
    return order
