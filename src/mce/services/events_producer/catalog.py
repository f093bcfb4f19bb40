"""Read the catalog's product ids, prices and names from the product service, a page at a time."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from mce.kit.errors import DomainError, Unavailable
from mce.kit.http import ServiceClient
from mce.services.events_producer.domain import FALLBACK_CATALOG, MAX_CATALOG_PRODUCTS, Catalog

log = logging.getLogger(__name__)

PAGE_SIZE = 100


class _Page(BaseModel):
    items: list[dict[str, Any]]


async def read_catalog(products: ServiceClient) -> Catalog:
    """The catalog as shoppers see it (up to MAX_CATALOG_PRODUCTS), or the fallback one, said in the log, when the
    product service cannot be read or has no products."""
    items: list[dict[str, Any]] = []
    after_id = 0
    try:
        while len(items) < MAX_CATALOG_PRODUCTS:
            params = {"limit": PAGE_SIZE, "after_id": after_id, "sort": "id"}
            response = await products.get("/products", params=params)
            if response.status != 200:
                raise Unavailable(f"product service answered GET /products with {response.status}", service="product")
            page = _Page.model_validate_json(response.content).items
            items.extend(page)
            ids = [item.get("id") for item in page if isinstance(item.get("id"), int)]
            if len(page) < PAGE_SIZE or not ids or max(ids) <= after_id:
                break
            after_id = max(ids)
    except (DomainError, ValueError) as exc:
        log.warning("could not read the catalog (%s); shoppers browse made-up product ids 1..100 meanwhile", exc)
        return FALLBACK_CATALOG
    catalog = Catalog.from_products(items)
    if catalog.fallback:
        log.warning("the catalog has no products; shoppers browse made-up product ids 1..100 meanwhile")
    else:
        log.info("shoppers browse %d products of the catalog", len(catalog.products))
    return catalog
