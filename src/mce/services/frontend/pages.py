"""The storefront pages: home, listing, product and search, rendered on the server."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Request, Response

from mce.kit.errors import DomainError, Unavailable
from mce.services.frontend import activity, views
from mce.services.frontend.clients import Backends
from mce.services.frontend.deps import BackendsDep, ProductId
from mce.services.frontend.rendering import render
from mce.services.frontend.views import PAGE_SIZE, Pagination, SearchQuery

log = logging.getLogger(__name__)

HOME_NEWEST = 8

router = APIRouter(include_in_schema=False)


class CategoryCache:
    """The header's categories: reused for `ttl` seconds, fetched by one request at a time, kept while the catalog is
    down, so a page never waits on the catalog twice and a slow catalog does not slow every page's header."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: list[dict[str, Any]] | None = None
        self._fetched_at = 0.0
        self._changed = False
        self._refreshing: asyncio.Task[None] | None = None

    def clear(self) -> None:
        """The catalog changed through this frontend: the next page waits for the new list rather than show the old."""
        self._fetched_at = 0.0
        self._changed = True

    async def get(self, backends: Backends) -> list[dict[str, Any]]:
        """Every category with its count; stale rather than none while the catalog does not answer."""
        if self._items is not None and time.monotonic() - self._fetched_at < self.ttl:
            return self._items
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh(backends))
        if self._items is None or self._changed:
            await asyncio.shield(self._refreshing)
        return self._items or []

    async def _refresh(self, backends: Backends) -> None:
        try:
            items = (await backends.product.fetch_json("/categories"))["items"]
            if not isinstance(items, list):
                raise TypeError("items is not a list")
        except (DomainError, KeyError, TypeError) as exc:
            # The header is a convenience: a catalog that is down, or answers nonsense, costs it, not the page.
            log.warning("categories unavailable, keeping the last ones: %s", exc)
            return
        self._items = items
        self._fetched_at = time.monotonic()
        self._changed = False


async def nav_categories(request: Request, backends: Backends) -> list[dict[str, Any]]:
    """Categories shoppers can browse: those with products in them."""
    items = await request.app.state.category_cache.get(backends)
    return [item for item in items if item.get("count")]


@router.get("/")
async def home(request: Request, backends: BackendsDep) -> Response:
    """Category tiles and the newest products."""
    categories, newest = await asyncio.gather(
        nav_categories(request, backends),
        backends.product.fetch_json("/products", {"limit": HOME_NEWEST, "sort": "newest"}),
    )
    return render(
        request, "home.html", {"nav_categories": categories, "categories": categories, "products": newest["items"]}
    )


@router.get("/products")
async def listing(
    request: Request,
    backends: BackendsDep,
    category: str | None = None,
    sort: str | None = None,
    page: str | None = None,
) -> Response:
    """All products, or one category's, a page at a time."""
    category = views.clean_text(category, views.MAX_CATEGORY_LENGTH)
    sort = views.choose(sort, views.LISTING_SORTS, "newest")
    page_number = views.parse_page(page)
    params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": (page_number - 1) * PAGE_SIZE, "sort": sort}
    if category:
        params["category"] = category
    result, categories = await asyncio.gather(
        backends.product.fetch_json("/products", params), nav_categories(request, backends)
    )
    return render(
        request,
        "listing.html",
        {
            "nav_categories": categories,
            "category": category,
            "sort": sort,
            "sorts": views.LISTING_SORTS,
            "products": result["items"],
            "pagination": Pagination(page=page_number, per_page=PAGE_SIZE, total=result["total"]),
            "link_params": {"category": category, "sort": None if sort == "newest" else sort},
        },
    )


@router.get("/products/{product_id}")
async def product_page(request: Request, backends: BackendsDep, product_id: ProductId) -> Response:
    """One product: price, stock, description and image."""
    product, categories = await asyncio.gather(
        backends.product.fetch_json(f"/products/{product_id}"), nav_categories(request, backends)
    )
    activity.record(request, "view_product", product_id=product_id)
    return render(request, "product.html", {"nav_categories": categories, "product": product})


async def _search_or_none(backends: Backends, query: SearchQuery) -> dict[str, Any] | None:
    """The search result, or None while the search service is down."""
    try:
        return await backends.search.fetch_json("/search", query.backend_params(PAGE_SIZE))
    except Unavailable as exc:
        log.warning("search page without search: %s", exc.message)
        return None


@router.get("/search")
async def search_page(
    request: Request,
    backends: BackendsDep,
    q: str | None = None,
    category: str | None = None,
    min_price: str | None = None,
    max_price: str | None = None,
    sort: str | None = None,
    page: str | None = None,
) -> Response:
    """Search results with category facets, a price range, sorting and pages."""
    query = SearchQuery.from_params(
        q=q, category=category, min_price=min_price, max_price=max_price, sort=sort, page=page
    )
    context: dict[str, Any] = {"query": query, "q": query.q, "sorts": views.SEARCH_SORTS}
    if not query.q:
        context["nav_categories"] = await nav_categories(request, backends)
        return render(request, "search.html", context)
    result, categories = await asyncio.gather(_search_or_none(backends, query), nav_categories(request, backends))
    context["nav_categories"] = categories
    if result is None:
        return render(request, "search.html", {**context, "unavailable": True}, status_code=503)
    activity.record(request, "search", metadata={"query": activity.bounded(query.q)})
    context.update(
        products=result["items"],
        hint=result.get("hint"),
        facets=views.sorted_facets(result.get("facets", {}).get("category", {})),
        pagination=Pagination(page=query.page, per_page=PAGE_SIZE, total=result["total"]),
        link_params=query.link_params(),
    )
    return render(request, "search.html", context)
