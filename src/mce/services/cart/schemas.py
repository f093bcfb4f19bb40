"""The cart API's request and response bodies; the limits come from the domain."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mce.kit.contracts import Id
from mce.kit.money import Money
from mce.services.cart.domain import QUANTITY_MAX, QUANTITY_MIN

Quantity = Annotated[int, Field(strict=True, ge=QUANTITY_MIN, le=QUANTITY_MAX)]


class ItemAdd(BaseModel):
    """A product to put in the cart; its name and price come from the catalog, never from the client."""

    model_config = ConfigDict(extra="forbid")

    product_id: Id
    quantity: Quantity = 1


class QuantityChange(BaseModel):
    """A line's new quantity; to take a product out, delete its line."""

    model_config = ConfigDict(extra="forbid")

    quantity: Quantity


class CartLinePayload(BaseModel):
    """One product in a cart."""

    product_id: int
    name: str
    quantity: int
    price: Money
    subtotal: Money


class CartPayload(BaseModel):
    """A cart; `total` is computed by the server, and version 0 means no cart was ever written."""

    cart_id: str
    user_id: str | None
    items: list[CartLinePayload]
    total: Money
    updated_at: str | None
    version: int
