"""Fake product and search services for the frontend's tests, reached in-process through AsgiTransport."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.testclient import TestClient

from mce.kit.errors import install_error_handlers
from mce.kit.http import AsgiTransport, NotSent, Transport
from mce.services.frontend.app import create_app
from mce.services.frontend.settings import FrontendSettings
from tests.fakes.catalog import ADMIN_TOKEN, Call, FakeCatalog

__all__ = ["ADMIN_TOKEN", "DownTransport", "FakeCatalog", "FakeSearch", "frontend_client"]

SESSION_SECRET = "test-session-secret-0123456789"


def _record(calls: list[Call], request: Request, body: Any = None) -> None:
    calls.append(Call(request.method, request.url.path, dict(request.query_params), dict(request.headers), body))


@dataclass
class FakeSearch:
    """The search service over the fake catalog's products: substring matching, category facets."""

    catalog: FakeCatalog
    calls: list[Call] = field(default_factory=list)

    def app(self) -> FastAPI:
        """The fake service as an ASGI app."""
        app = FastAPI()
        install_error_handlers(app)

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/search")
        async def search(
            request: Request,
            q: str = "",
            category: str | None = None,
            min_price: float | None = None,
            max_price: float | None = None,
            sort: str = "relevance",
            limit: int = Query(20, ge=1, le=100),
            offset: int = Query(0, ge=0),
        ) -> dict[str, Any]:
            _record(self.calls, request)
            words = q.lower().split()
            hits = [
                p
                for p in self.catalog.products.values()
                if all(word in p["name"].lower() for word in words)
                and (min_price is None or Decimal(p["price"]) >= Decimal(str(min_price)))
                and (max_price is None or Decimal(p["price"]) <= Decimal(str(max_price)))
            ]
            facets: dict[str, int] = {}
            for product in hits:
                facets[product["category"]] = facets.get(product["category"], 0) + 1
            if category:
                hits = [p for p in hits if p["category"] == category]
            if sort != "relevance":
                hits.sort(key=lambda p: Decimal(p["price"]), reverse=sort == "price_desc")
            return {
                "items": hits[offset : offset + limit],
                "total": len(hits),
                "facets": {"category": facets},
                "limit": limit,
                "offset": offset,
            }

        return app


class DownTransport:
    """A backend that refuses every connection."""

    def __init__(self) -> None:
        self.attempts = 0

    async def send(self, method: str, url: str, **_: Any) -> Any:
        self.attempts += 1
        raise NotSent("connection refused")

    async def aclose(self) -> None:
        return None


def frontend_settings(data_dir: Path, **overrides: Any) -> FrontendSettings:
    """Settings of a frontend under test: its own data directory and fixed secrets."""
    return FrontendSettings(data_dir=data_dir, admin_token=ADMIN_TOKEN, session_secret=SESSION_SECRET, **overrides)


def frontend_client(
    data_dir: Path,
    catalog: FakeCatalog,
    *,
    search: FakeSearch | None = None,
    product_transport: Transport | None = None,
    search_transport: Transport | None = None,
    **overrides: Any,
) -> TestClient:
    """A test client for a frontend whose backends are the given fakes; no search means search is down."""
    app = create_app(
        frontend_settings(data_dir, **overrides),
        product_transport=product_transport or AsgiTransport(catalog.app()),
        search_transport=search_transport or (AsgiTransport(search.app()) if search is not None else DownTransport()),
    )
    return TestClient(app)
