"""The cart API's request and response bodies: the kit's shared cart contracts, under the cart's own names."""

from __future__ import annotations

from mce.kit.contracts import CartItemAdd as ItemAdd
from mce.kit.contracts import CartLinePayload, CartMerge, CartPayload
from mce.kit.contracts import CartQuantityChange as QuantityChange

__all__ = ["CartLinePayload", "CartMerge", "CartPayload", "ItemAdd", "QuantityChange"]
