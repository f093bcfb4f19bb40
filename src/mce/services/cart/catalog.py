"""The catalog as the cart sees it: the product service's GET /products/{id}, over the kit's service client."""

from __future__ import annotations

from typing import Any

import anyio.from_thread

from mce.kit.errors import Unavailable
from mce.kit.http import ServiceClient
from mce.kit.money import MoneyError, parse_amount
from mce.services.cart.domain import CatalogProduct


class HttpCatalog:
    """Asks the product service; call `product` from a worker thread of the app's event loop (a sync route)."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    def product(self, product_id: int) -> CatalogProduct | None:
        """The product as the product service has it now, None when it answers 404; Unavailable when it cannot say."""
        # The use cases are synchronous (they wait on the database); the client lives on the event loop.
        return anyio.from_thread.run(self.fetch, product_id)

    async def fetch(self, product_id: int) -> CatalogProduct | None:
        """The same as `product`, from the event loop."""
        response = await self.client.get(f"/products/{product_id}")
        if response.status == 404:
            return None
        if response.status != 200:
            raise Unavailable(f"product service answered {response.status} for product {product_id}", service="product")
        try:
            return _product(product_id, response.json())
        except (ValueError, KeyError, TypeError, MoneyError) as exc:
            raise Unavailable(f"product service sent an unreadable product: {exc}", service="product") from exc


def _product(product_id: int, body: Any) -> CatalogProduct:
    """The fields the cart keeps, checked: an exact price and a whole stock."""
    stock = body["stock"]
    if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0:
        raise ValueError(f"stock {stock!r} is not a whole number")
    name = body["name"]
    if not isinstance(name, str) or not name:
        raise ValueError("no name")
    return CatalogProduct(product_id=product_id, name=name, price=parse_amount(body["price"]), stock=stock)
