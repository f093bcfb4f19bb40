"""Load the whole catalogue into an index that lacks it, a page at a time, waiting out a product service outage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from mce.kit.errors import Invalid, Unavailable
from mce.kit.http import ServiceClient
from mce.services.search.domain import Product, parse_product
from mce.services.search.index.port import SearchIndex

log = logging.getLogger(__name__)

PAGE_SIZE = 100
# Pauses between attempts while the product service is down: quick at first, since it is usually just starting.
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 10.0


class CataloguePage(BaseModel):
    """One page of GET /products as the product service answers it."""

    items: list[dict[str, Any]]
    total: int


FetchPage = Callable[[int], Awaitable[CataloguePage]]


def _product_id(item: dict[str, Any]) -> int:
    """The id paging relies on; a product without one makes the catalogue unreadable."""
    product_id = item.get("id")
    if not isinstance(product_id, int):
        raise Invalid(f"product service sent a product without an integer id: {product_id!r}")
    return product_id


async def catalogue_pages(fetch_page: FetchPage, page_size: int = PAGE_SIZE) -> AsyncIterator[list[dict[str, Any]]]:
    """Every product of a catalogue by id, each once, a page at a time, whatever happens to it meanwhile.

    Pages are keyed by the last id seen (`after_id`), not by offset: deletions cannot shift products past the
    reader, and a catalogue of any size is reached (offsets stop at the shared window of 10,000).
    """
    after_id = 0
    while True:
        items = (await fetch_page(after_id)).items
        if items:
            last = _product_id(items[-1])
            if last <= after_id:
                raise Invalid(f"product service paged backwards: after id {after_id} it sent id {last}")
            after_id = last
            yield items
        if len(items) < page_size:
            return


class CatalogueRebuild:
    """One rebuild of the index from the catalogue, with the progress readiness reports."""

    def __init__(self, index: SearchIndex, products: ServiceClient) -> None:
        self.index = index
        self.products = products
        self.indexed = 0
        self.total: int | None = None
        self.finished = False
        self.failure: str | None = None
        self.last_fetch_error: str | None = None

    async def run(self) -> None:
        """Rebuild unless a full load already finished; then the rebuild counts as finished, or failed with a reason."""
        try:
            # Not "if empty": a load cut short by a crash leaves products behind, and the rest would never come.
            if not await asyncio.to_thread(self.index.is_complete):
                await self._rebuild()
                await asyncio.to_thread(self.index.mark_complete)
            self.finished = True
        except Exception as exc:
            # Readiness keeps reporting it, so the service never claims an index it does not have.
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("rebuilding the search index failed")

    async def check(self) -> None:
        """Raise Unavailable until the index holds the catalogue."""
        if self.failure is not None:
            raise Unavailable(f"rebuilding the index failed: {self.failure}")
        if not self.finished:
            progress = f"{self.indexed} of {self.total if self.total is not None else '?'} products"
            waiting = f"; waiting for the product service: {self.last_fetch_error}" if self.last_fetch_error else ""
            raise Unavailable(f"rebuilding the index: {progress}{waiting}")

    def status(self) -> dict[str, Any]:
        """Progress as JSON, for /stats."""
        state = "failed" if self.failure else ("finished" if self.finished else "running")
        error = self.failure or self.last_fetch_error
        return {"state": state, "indexed": self.indexed, "total": self.total, "error": error}

    async def _rebuild(self) -> None:
        """Index every product of the catalogue, one commit per page."""
        started = time.monotonic()
        log.info("the search index does not hold the whole catalogue; loading it from the product service")
        async for items in catalogue_pages(self._fetch_page):
            products = [product for product in map(self._parse, items) if product is not None]
            await asyncio.to_thread(self.index.upsert, products)
            self.indexed += len(items)
            log.info("rebuilding the search index: %d of %s products", self.indexed, self.total)
        log.info("rebuilt the search index: %d products in %.1f s", self.indexed, time.monotonic() - started)

    async def _fetch_page(self, after_id: int) -> CataloguePage:
        """One page of the catalogue, asked for again with growing pauses until the product service gives it."""
        delay = FIRST_BACKOFF_S
        while True:
            try:
                response = await self.products.get(
                    "/products", params={"limit": PAGE_SIZE, "after_id": after_id, "sort": "id"}
                )
                if 400 <= response.status < 500:
                    # Asking again will not help: the request itself is wrong, so the rebuild fails and says why.
                    raise Invalid(
                        f"product service refused the catalogue page: {response.status} {response.text[:200]}"
                    )
                if response.status != 200:
                    raise Unavailable(
                        f"product service answered GET /products with {response.status}", service="product"
                    )
                page = CataloguePage.model_validate_json(response.content)
            except (Unavailable, ValueError) as exc:
                self.last_fetch_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning(
                    "product service gave no catalogue page after id %d (%s); retrying in %.1f s",
                    after_id,
                    self.last_fetch_error,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            self.total = page.total
            self.last_fetch_error = None
            return page

    @staticmethod
    def _parse(item: dict[str, Any]) -> Product | None:
        """The product, or None after logging why it cannot be indexed, so one bad row does not stop the rebuild."""
        try:
            return parse_product(item)
        except Invalid as exc:
            log.error("skipping a product the rebuild cannot index: %s", exc.message)
            return None
