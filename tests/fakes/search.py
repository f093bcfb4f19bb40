"""A fake search service for the tests of its callers (the frontend): simple matching, the real service's contract.

Matching is plain: every word of the query, stop words aside, must be part of the product's name or category, and
relevance is newest first. Everything else is the real service's: the /search route itself (its parameters are the
kit's contract types, so the same values are refused with the same 422 bodies), the app around it (400, 404, 405,
HEAD, request ids, error shape), the answer's shape with its category counts, and the hint for a query of only stop
words. tests/contract/test_search_api_contract.py runs one suite against this fake and the real service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mce.kit.app import create_service_app
from mce.kit.money import format_amount, parse_amount
from mce.kit.settings import BaseServiceSettings
from mce.services.search.analysis import STOP_WORDS, words_of
from mce.services.search.app import add_search_route
from mce.services.search.domain import SearchPage, SearchQuery

# Health probes and scrapes are not calls a test asks about.
UNRECORDED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ProductsSource(Protocol):
    """Anything holding products by id as their JSON (price as a string such as "12.50"), e.g. a fake catalog."""

    products: Mapping[int, dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One request the fake received, as sent: HEAD stays HEAD, and invalid requests are recorded too."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class _RecordCalls:
    """Outermost middleware: records each request before anything else sees or refuses it."""

    def __init__(self, app: ASGIApp, *, calls: list[Call]) -> None:
        self.app = app
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in UNRECORDED_PATHS:
            request = Request(scope)
            self.calls.append(
                Call(scope["method"], scope["path"], dict(request.query_params), dict(request.headers.items()))
            )
        await self.app(scope, receive, send)


class _SubstringIndex:
    """The one part of a SearchIndex the /search route uses, over the source's products at the time of the call."""

    remote = False

    def __init__(self, source: ProductsSource) -> None:
        self.source = source

    def search(self, query: SearchQuery) -> SearchPage:
        if query.hint is not None:
            return SearchPage.hinted(query.hint)
        words = [word for word in words_of(query.q) if word not in STOP_WORDS]
        matching = [
            product
            for product in self.source.products.values()
            if all(word in f"{product['name']} {product['category']}".lower() for word in words)
            and _within(_price(product), query.min_price, query.max_price)
        ]
        counts: dict[str, int] = {}
        for product in matching:
            counts[product["category"]] = counts.get(product["category"], 0) + 1
        if query.category is not None:
            matching = [product for product in matching if product["category"] == query.category]
        if query.sort == "relevance":
            matching.sort(key=lambda product: product["id"], reverse=True)
        else:
            matching.sort(key=lambda product: (_price(product), product["id"]), reverse=query.sort == "price_desc")
        page = matching[query.offset : query.offset + query.limit]
        items = [{**product, "price": format_amount(_price(product))} for product in page]
        return SearchPage(items=items, total=len(matching), category_counts=counts)


def _price(product: Mapping[str, Any]) -> Decimal:
    return parse_amount(product["price"])


def _within(price: Decimal, lowest: Decimal | None, highest: Decimal | None) -> bool:
    return (lowest is None or price >= lowest) and (highest is None or price <= highest)


class FakeSearch:
    """The search service over a products source: `app()` serves it, `calls` records what it was sent."""

    def __init__(self, products_source: ProductsSource) -> None:
        self.products_source = products_source
        self.calls: list[Call] = []

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The calls received for one method and path."""
        return [call for call in self.calls if call.method == method and call.path == path]

    def app(self) -> FastAPI:
        """The fake service as an ASGI app: the real /search route over substring matching."""
        # No metrics port, whatever the environment says: a fake must not listen anywhere.
        app = create_service_app("search", BaseServiceSettings(metrics_port=None))
        add_search_route(app)
        app.state.index = _SubstringIndex(self.products_source)
        app.add_middleware(_RecordCalls, calls=self.calls)
        return app
