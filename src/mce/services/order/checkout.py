"""Checkout: the shopper's cart becomes a paid order, once per idempotency key, or a cancelled one with the reason.

It spans services, so it is a sequence of short transactions with calls between them, in this order:

1. claim the key, committed at once, so a twin request gets 409 while this one runs;
2. read the cart; 3. create the order `created` with OrderCreated (one transaction);
4. reserve the stock at product (reference `order-<id>`), which answers the prices to charge;
5. charge the card; 6. `paid` with OrderPaid and the key's answer (one transaction); 7. empty the cart.

Whatever fails after the order exists, the reservation is released and the order ends `cancelled` with the reason, in
the same transaction as the key's answer, so a retry with the key gets the same answer and never a second order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import orjson
from anyio import to_thread

from mce.kit.errors import DomainError, Invalid, OutOfStock, error_body, problem
from mce.kit.idempotency import StoredResponse
from mce.services.order import usecases
from mce.services.order.domain import Order, OrderLine, PaymentDeclined
from mce.services.order.payment import Card, PaymentResult, charge
from mce.services.order.pricing import order_total
from mce.services.order.remote import CartLine
from mce.services.order.schemas import CheckoutRequest
from mce.services.order.store.sql import OrderUnitOfWork

log = logging.getLogger(__name__)


class Cart(Protocol):
    """The shopper's cart, at the cart service."""

    async def lines(self, owner: str) -> list[CartLine]:
        """The cart's lines; Unavailable when the cart service cannot say."""
        ...

    async def clear(self, owner: str) -> None:
        """Empty the cart; Unavailable when that did not happen."""
        ...


class Stock(Protocol):
    """Stock reservations, at the product service."""

    async def reserve(self, reference: str, items: Sequence[tuple[int, int]]) -> list[OrderLine]:
        """Take the items out of stock, all or none, answering the prices; OutOfStock or Unavailable."""
        ...

    async def release(self, reference: str) -> None:
        """Put back what the reservation took, once; Unavailable when that did not happen."""
        ...


@dataclass(frozen=True)
class Answer:
    """What checkout answers, as stored for its key: the status, the JSON body and the new order's address."""

    status: int
    body: bytes
    location: str | None = None
    replayed: bool = False
    # How the checkout ended, for metrics: paid, or the error's code (out_of_stock, payment_declined, ...).
    outcome: str = "paid"


def _failure(exc: DomainError) -> Answer:
    return Answer(exc.status, orjson.dumps(error_body(exc.code, exc.message, exc.details)), outcome=exc.code)


def _reason(exc: DomainError) -> str:
    """Why the order was cancelled, in words for its history."""
    if isinstance(exc, OutOfStock):
        return "out of stock: " + "; ".join(d["message"] for d in exc.details) if exc.details else exc.message
    return exc.message


@dataclass
class Checkout:
    """Checks out a cart over the order database and the cart, product and payment services."""

    open_uow: Callable[[], OrderUnitOfWork]
    cart: Cart
    stock: Stock
    today: Callable[[], date] = lambda: datetime.now(UTC).date()

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        # The database waits (SQLite's lock, PostgreSQL's network), so it never runs on the event loop.
        return await to_thread.run_sync(fn, *args)

    async def __call__(self, *, owner: str, key: str, request: CheckoutRequest, card: Card, fingerprint: str) -> Answer:
        """Check out the owner's cart once per key; every answer, failure or success, is kept for the key."""
        stored: StoredResponse | None = await self._db(self._claim, owner, key, fingerprint)
        if stored is not None:
            return Answer(stored.status, stored.body, stored.location, replayed=True, outcome="replayed")
        try:
            lines = await self.cart.lines(owner)
        except DomainError as exc:
            return await self._db(self._record, owner, key, _failure(exc))
        if not lines:
            empty = Invalid("the cart is empty: add products before checking out", details=[problem("", "empty cart")])
            return await self._db(self._record, owner, key, _failure(empty))
        order: Order = await self._db(self._create, owner, lines, request)
        reference = f"order-{order.id}"
        reserved = False
        try:
            priced = await self.stock.reserve(reference, [(line.product_id, line.quantity) for line in lines])
            reserved = True
            total = order_total((line.price, line.quantity) for line in priced)
            payment = self._charge(card, total, reference)
        except DomainError as exc:
            # OutOfStock reserved nothing; after anything else the reservation may exist, so it is released.
            if reserved or not isinstance(exc, OutOfStock):
                await self._release(reference)
            return await self._db(self._cancel, owner, key, order.id, exc)
        return await self._finish(owner, key, order.id, priced, total, payment)

    def _charge(self, card: Card, total: Decimal, reference: str) -> PaymentResult | None:
        """Charge the card for the total (nothing for a free order); PaymentDeclined or PaymentTimeout."""
        if total == 0:
            return None
        # The order's reference as the payment's key: a retried charge of one order is one charge.
        result = charge(card, amount=total, idempotency_key=reference)
        if not result.approved:
            raise PaymentDeclined(
                f"payment declined: {result.reason}", details=[problem("payment", result.reason or "")]
            )
        return result

    async def _release(self, reference: str) -> None:
        try:
            await self.stock.release(reference)
        except DomainError:
            # The reservation stays taken until someone releases it; product applies a later release once.
            log.exception("could not release reservation %s; release it by hand at product", reference)

    async def _finish(
        self,
        owner: str,
        key: str,
        order_id: int,
        priced: list[OrderLine],
        total: Decimal,
        payment: PaymentResult | None,
    ) -> Answer:
        answer: Answer = await self._db(self._paid, owner, key, order_id, priced, total, payment)
        try:
            await self.cart.clear(owner)
        except DomainError:
            # The order is paid; a cart left full is an annoyance the shopper can fix, not a lost order.
            log.warning("order %s is paid but the cart of its owner could not be emptied", order_id, exc_info=True)
        return answer

    def _claim(self, owner: str, key: str, fingerprint: str) -> StoredResponse | None:
        with self.open_uow() as uow:
            return uow.claim_key(scope=owner, key=key, fingerprint=fingerprint)

    def _record(self, owner: str, key: str, answer: Answer) -> Answer:
        with self.open_uow() as uow:
            uow.record_key(scope=owner, key=key, status=answer.status, body=answer.body, location=answer.location)
        return answer

    def _create(self, owner: str, lines: list[CartLine], request: CheckoutRequest) -> Order:
        # Priced at zero until product answers the prices it reserved at: the cart's prices are never charged.
        items = [OrderLine(line.product_id, line.name, line.quantity, Decimal("0.00")) for line in lines]
        with self.open_uow() as uow:
            return usecases.create_order(
                uow, owner=owner, items=items, shipping_address=request.shipping_address.model_dump(mode="json")
            )

    def _cancel(self, owner: str, key: str, order_id: int, exc: DomainError) -> Answer:
        answer = _failure(exc)
        with self.open_uow() as uow:
            usecases.cancel_order(uow, order_id=order_id, reason=_reason(exc)[:500])
            uow.record_key(scope=owner, key=key, status=answer.status, body=answer.body)
        return answer

    def _paid(
        self,
        owner: str,
        key: str,
        order_id: int,
        priced: list[OrderLine],
        total: Decimal,
        payment: PaymentResult | None,
    ) -> Answer:
        with self.open_uow() as uow:
            order = usecases.mark_paid(uow, order_id=order_id, items=priced, total=total, payment=payment)
            answer = Answer(201, orjson.dumps(order.to_json()), f"/orders/{order.id}")
            uow.record_key(scope=owner, key=key, status=answer.status, body=answer.body, location=answer.location)
        return answer
