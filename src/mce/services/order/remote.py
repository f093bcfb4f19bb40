"""The services checkout calls, as it sees them: the shopper's cart, and stock reservations at the product service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from mce.kit.contracts import CartPayload, StockReservationPayload
from mce.kit.errors import Conflict, OutOfStock, Unavailable
from mce.kit.http import HttpResponse, ServiceClient
from mce.services.order.domain import OrderLine


@dataclass(frozen=True)
class CartLine:
    """A product in the shopper's cart: which and how many (the cart's price is only shown, never charged)."""

    product_id: int
    name: str
    quantity: int


def _error(response: HttpResponse) -> tuple[str, str, list[dict[str, str]]]:
    """(code, message, details) of a kit error body; empty code when the body is not one."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"]), list(error.get("details") or [])
    except (ValueError, KeyError, TypeError):
        return "", response.text[:200], []


class HttpCart:
    """The cart service's `/carts/{owner}`."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def lines(self, owner: str) -> list[CartLine]:
        """The cart's lines; Unavailable when the cart service cannot say."""
        response = await self.client.get(f"/carts/{owner}")
        if response.status != 200:
            raise Unavailable(f"cart service answered {response.status} for the cart", service="cart")
        try:
            cart = CartPayload.model_validate_json(response.content)
        except ValidationError as exc:
            raise Unavailable(
                f"cart service sent an unreadable cart ({exc.error_count()} errors)", service="cart"
            ) from exc
        return [CartLine(item.product_id, item.name, item.quantity) for item in cart.items]

    async def clear(self, owner: str) -> None:
        """Empty the cart; Unavailable when that did not happen."""
        # Emptying twice leaves the same empty cart, so a lost answer may be retried.
        response = await self.client.request("DELETE", f"/carts/{owner}", idempotent=True)
        if response.status != 200:
            raise Unavailable(f"cart service answered {response.status} to emptying the cart", service="cart")


class HttpStock:
    """The product service's `/stock-reservations`, called with the admin token."""

    def __init__(self, client: ServiceClient, admin_token: str) -> None:
        self.client = client
        self.headers = {"authorization": f"Bearer {admin_token}"}

    async def reserve(self, reference: str, items: Sequence[tuple[int, int]]) -> list[OrderLine]:
        """Take the items out of stock, all or none; the lines at the prices product read. OutOfStock or Unavailable."""
        body = {"reference": reference, "items": [{"product_id": p, "quantity": q} for p, q in items]}
        # A reservation applies once per reference, so a lost answer may be retried.
        response = await self.client.request(
            "POST", "/stock-reservations", json=body, headers=self.headers, idempotent=True
        )
        if response.status == 409:
            code, message, details = _error(response)
            if code == OutOfStock.code:
                raise OutOfStock(message, details=details)
            raise Conflict(f"product service refused the reservation: {message}")
        if response.status != 200:
            raise Unavailable(f"product service answered {response.status} to the reservation", service="product")
        try:
            reserved = StockReservationPayload.model_validate_json(response.content)
        except ValidationError as exc:
            raise Unavailable("product service sent an unreadable reservation", service="product") from exc
        lines = {item.product_id: item for item in reserved.items}
        if sorted(lines) != sorted(p for p, _ in items):
            raise Unavailable("product service reserved other products than asked", service="product")
        return [OrderLine(p, lines[p].name, lines[p].quantity, lines[p].price) for p, _ in items]

    async def release(self, reference: str) -> None:
        """Put back what the reservation took (nothing when it took nothing); Unavailable when that did not happen."""
        response = await self.client.request(
            "POST", f"/stock-reservations/{reference}/release", headers=self.headers, idempotent=True
        )
        if response.status != 200:
            raise Unavailable(f"product service answered {response.status} to the release", service="product")
