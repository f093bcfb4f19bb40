"""The search service: GET /search over an index that product events keep current."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request

from mce.kit.app import add_readiness_check, create_service_app
from mce.kit.bus.consumer import Consumer
from mce.kit.bus.factory import build_bus
from mce.kit.bus.port import EventBus
from mce.kit.http import ServiceClient
from mce.kit.settings import load_settings
from mce.services.search.domain import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    SearchQuery,
    SortOrder,
    apply_product_events,
)
from mce.services.search.index.factory import build_index
from mce.services.search.index.port import SearchIndex
from mce.services.search.rebuild import CatalogueRebuild
from mce.services.search.schemas import Facets, SearchResults
from mce.services.search.settings import SearchSettings

log = logging.getLogger(__name__)

PRODUCTS_TOPIC = "products"
CONSUMER_GROUP = "search"

Q_HELP = "Words that must all match: as written, as the start of a word, or with a typo"
SORT_HELP = "relevance (newest first when there are no words), price_asc or price_desc"

router = APIRouter()


def current_index(request: Request) -> SearchIndex:
    """The index the lifespan opened."""
    return request.app.state.index


IndexDep = Annotated[SearchIndex, Depends(current_index)]


@router.get("/search", response_model=SearchResults, tags=["search"], summary="Search the catalogue")
async def search(
    index: IndexDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description=Q_HELP)] = "",
    category: Annotated[str | None, Query(description="Only products in this category (exact)")] = None,
    min_price: Annotated[float | None, Query(ge=0, description="Lowest price, inclusive; not above max_price")] = None,
    max_price: Annotated[float | None, Query(ge=0, description="Highest price, inclusive")] = None,
    sort: Annotated[SortOrder, Query(description=SORT_HELP)] = "relevance",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SearchResults:
    query = SearchQuery(
        q=q, category=category, min_price=min_price, max_price=max_price, sort=sort, limit=limit, offset=offset
    )
    page = index.search(query)
    return SearchResults(
        items=page.items,
        total=page.total,
        facets=Facets(category=page.category_counts),
        limit=query.limit,
        offset=query.offset,
    )


@router.get("/stats", tags=["ops"], summary="Index size, event consumer progress and rebuild state")
async def stats(request: Request) -> dict[str, Any]:
    state = request.app.state
    consumer: Consumer = state.consumer
    return {
        "products": state.index.count(),
        "consumer": {
            "alive": consumer.alive,
            "handled": consumer.handled,
            "dead_lettered": consumer.dead_lettered,
            "last_error": consumer.last_error,
        },
        "rebuild": state.rebuild.status(),
    }


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait until it has stopped."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _lifespan(
    settings: SearchSettings,
    index: SearchIndex | None,
    bus: EventBus | None,
    product_transport: httpx.AsyncBaseTransport | None,
) -> Callable[[FastAPI], Any]:
    """Open the index, follow product events, load the catalogue if the index lacks it; undo all that on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            search_index = index or build_index(settings.search_index, data_dir=settings.data_dir)
            if index is None:
                stack.callback(search_index.close)
            event_bus = bus or build_bus(settings.bus, data_dir=settings.data_dir)
            if bus is None:
                stack.callback(event_bus.close)
            products = ServiceClient(
                "product", settings.product_url, timeout=settings.http_timeout, transport=product_transport
            )
            stack.push_async_callback(products.aclose)

            consumer = Consumer(
                event_bus, PRODUCTS_TOPIC, CONSUMER_GROUP, functools.partial(apply_product_events, search_index)
            )
            consumer.start()
            stack.push_async_callback(asyncio.to_thread, consumer.stop)
            rebuild = CatalogueRebuild(search_index, products)
            stack.push_async_callback(_cancel, asyncio.create_task(rebuild.run(), name="search-index-rebuild"))

            app.state.index = search_index
            app.state.consumer = consumer
            app.state.rebuild = rebuild

            async def index_answers() -> None:
                search_index.ping()

            add_readiness_check(app, "index", index_answers)
            add_readiness_check(app, "bus", functools.partial(asyncio.to_thread, event_bus.ping))
            add_readiness_check(app, "rebuild", rebuild.check)
            log.info(
                "search is following %r as group %r with the %s index",
                PRODUCTS_TOPIC,
                CONSUMER_GROUP,
                settings.search_index,
            )
            yield

    return lifespan


def create_app(
    settings: SearchSettings | None = None,
    *,
    index: SearchIndex | None = None,
    bus: EventBus | None = None,
    product_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The search app; its lifespan builds what is not passed in, and closes only what it built."""
    settings = settings or load_settings(SearchSettings)
    app = create_service_app(
        "search",
        settings,
        lifespan=_lifespan(settings, index, bus, product_transport),
        description="Full-text product search with prefixes, typo tolerance, filters and category counts.",
    )
    app.include_router(router)
    return app
