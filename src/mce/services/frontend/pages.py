"""The storefront pages: home, listing, product and search, rendered on the server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from mce.kit.errors import DomainError
from mce.services.frontend import views
from mce.services.frontend.clients import Backends, SearchUnavailable
from mce.services.frontend.deps import BackendsDep, ProductId, shopper_session
from mce.services.frontend.rendering import render
from mce.services.frontend.views import PAGE_SIZE, Pagination, SearchQuery

log = logging.getLogger(__name__)

HOME_NEWEST = 8

router = APIRouter(include_in_schema=False, dependencies=[Depends(shopper_session)])


async def nav_categories(backends: Backends) -> list[dict[str, Any]]:
    """Categories for the header; a page whose own content comes from elsewhere still renders without them."""
    try:
        body = await backends.product.fetch_json("/categories")
    except DomainError as exc:
        log.warning("header categories unavailable: %s", exc)
        return []
    return body["items"]


@router.get("/")
async def home(request: Request, backends: BackendsDep) -> Response:
    """Category tiles and the newest products."""
    categories, newest = await asyncio.gather(
        backends.product.fetch_json("/categories"),
        backends.product.fetch_json("/products", {"limit": HOME_NEWEST, "sort": "newest"}),
    )
    return render(
        request,
        "home.html",
        {"nav_categories": categories["items"], "categories": categories["items"], "products": newest["items"]},
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
        backends.product.fetch_json("/products", params), nav_categories(backends)
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
        backends.product.fetch_json(f"/products/{product_id}"), nav_categories(backends)
    )
    return render(request, "product.html", {"nav_categories": categories, "product": product})


async def _search_or_none(backends: Backends, query: SearchQuery) -> dict[str, Any] | None:
    """The search result, or None while the search service is down."""
    try:
        return await backends.search.fetch_json("/search", query.backend_params(PAGE_SIZE))
    except SearchUnavailable as exc:
        log.warning("search page without search: %s", exc)
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
        context["nav_categories"] = await nav_categories(backends)
        return render(request, "search.html", context)
    result, categories = await asyncio.gather(_search_or_none(backends, query), nav_categories(backends))
    context["nav_categories"] = categories
    if result is None:
        return render(request, "search.html", {**context, "unavailable": True}, status_code=503)
    context.update(
        products=result["items"],
        facets=views.sorted_facets(result.get("facets", {}).get("category", {})),
        pagination=Pagination(page=query.page, per_page=PAGE_SIZE, total=result["total"]),
        link_params=query.link_params(),
    )
    return render(request, "search.html", context)
