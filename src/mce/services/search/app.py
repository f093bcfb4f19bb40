"""The search service: GET /search over an index that product events keep current."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request, Response

from mce.kit.app import add_readiness_check, add_stats_route, create_service_app
from mce.kit.bus.consumer import Consumer
from mce.kit.bus.factory import own_bus
from mce.kit.bus.port import EventBus
from mce.kit.contracts import PRODUCTS_TOPIC, SearchResults
from mce.kit.errors import ErrorBody
from mce.kit.http import ServiceClient, Transport
from mce.kit.settings import load_settings
from mce.services.search.domain import SearchPage, SearchQuery, apply_product_events
from mce.services.search.index.factory import build_index
from mce.services.search.index.port import SearchIndex
from mce.services.search.rebuild import CatalogueRebuild
from mce.services.search.settings import SearchSettings

log = logging.getLogger(__name__)

# Product events come one by one while shoppers check out (each stock reservation is one); an index commit per event
# cost 12 ms of search CPU per checkout. Waiting this long for more makes one commit of them: at 50 checkouts a
# second it took checkout's p95 from 115-143 ms to 38-69 ms, and a change still becomes searchable within about
# 0.26 s (p95), far inside the 2 s it must.
CONSUMER_LINGER_S = 0.2

JSON = "application/json"


async def current_index(request: Request) -> SearchIndex:
    """The index the lifespan opened."""
    return request.app.state.index


IndexDep = Annotated[SearchIndex, Depends(current_index)]
SearchParams = Annotated[SearchQuery, Query()]


def results_body(query: SearchQuery, page: SearchPage) -> bytes:
    """The SearchResults JSON for a page, written straight from the stored product documents."""
    return orjson.dumps(
        {
            "items": page.items,
            "total": page.total,
            "facets": {"category": page.category_counts},
            "limit": query.limit,
            "offset": query.offset,
            "hint": page.hint,
        }
    )


async def off_loop(index: SearchIndex, call: Callable[..., Any], *args: Any) -> Any:
    """Call an index method: in a worker thread when it waits on the network, so the loop serves others meanwhile."""
    # The embedded index answers in microseconds of CPU, less than a thread hop costs, so it is called in place.
    return await asyncio.to_thread(call, *args) if index.remote else call(*args)


async def search(index: IndexDep, query: SearchParams) -> Response:
    """One page of products matching the query, with category counts."""
    return Response(results_body(query, await off_loop(index, index.search, query)), media_type=JSON)


def add_search_route(app: FastAPI) -> None:
    """Serve GET /search over `app.state.index`; the real service and the fake its callers test with share it."""
    # On the app itself, not through include_router: FastAPI keeps an included router's routes out of `app.routes`,
    # where the kit looks up the methods a 405 answer's Allow header names.
    app.add_api_route(
        "/search",
        search,
        methods=["GET"],
        tags=["search"],
        summary="Search the catalogue",
        description=(
            "Every word must match: as written, as the start of a word, with a typo, as a synonym, or joined to the "
            "next word. A query of only common words or symbols finds nothing and says what to try in `hint`; an "
            "empty query lists everything. Category counts ignore the category filter, so every choice shows."
        ),
        responses={200: {"model": SearchResults}, 503: {"model": ErrorBody, "description": "The index cannot answer"}},
    )


async def stats(request: Request) -> dict[str, Any]:
    """Index size, event consumer progress and rebuild state."""
    state = request.app.state
    consumer: Consumer = state.consumer
    return {
        "products": await off_loop(state.index, state.index.count),
        "consumer": {
            "group": consumer.group,
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
    product_transport: Transport | None,
) -> Callable[[FastAPI], Any]:
    """Open the index, follow product events, load the catalogue if the index lacks it; undo all that on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            search_index = index or build_index(settings)
            if index is None:
                stack.callback(search_index.close)
            event_bus = own_bus(stack, settings, bus)
            products = ServiceClient(
                "product", settings.product_url, timeout=settings.http_timeout, transport=product_transport
            )
            stack.push_async_callback(products.aclose)

            # Asked once at start: a local index is one replica and follows the topic with a group of its own.
            group = search_index.consumer_group()
            handler = functools.partial(apply_product_events, search_index)
            consumer = Consumer(event_bus, PRODUCTS_TOPIC, group, handler, linger_s=CONSUMER_LINGER_S)
            app.state.metrics.watch_consumer(consumer)
            consumer.start()
            stack.push_async_callback(asyncio.to_thread, consumer.stop)
            rebuild = CatalogueRebuild(search_index, products)
            stack.push_async_callback(_cancel, asyncio.create_task(rebuild.run(), name="search-index-rebuild"))

            app.state.index = search_index
            app.state.consumer = consumer
            app.state.rebuild = rebuild

            async def index_answers() -> None:
                await off_loop(search_index, search_index.ping)

            add_readiness_check(app, "index", index_answers)
            add_readiness_check(app, "bus", functools.partial(asyncio.to_thread, event_bus.ping))
            add_readiness_check(app, "rebuild", rebuild.check)
            log.info(
                "search is following %r as group %r with the %s index", PRODUCTS_TOPIC, group, settings.search_index
            )
            yield

    return lifespan


def create_app(
    settings: SearchSettings | None = None,
    *,
    index: SearchIndex | None = None,
    bus: EventBus | None = None,
    product_transport: Transport | None = None,
) -> FastAPI:
    """The search app; its lifespan builds what is not passed in, and closes only what it built."""
    settings = settings or load_settings(SearchSettings)
    app = create_service_app(
        "search",
        settings,
        lifespan=_lifespan(settings, index, bus, product_transport),
        description="Full-text product search with prefixes, typos, compounds, synonyms, filters and category counts.",
    )
    add_search_route(app)
    add_stats_route(app, stats, "index size, event consumer progress and rebuild state")
    return app
