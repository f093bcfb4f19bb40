"""Small fake product and search services for the frontend's tests, reached through httpx.ASGITransport."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import Body, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from mce.kit.auth import check_admin
from mce.kit.errors import Conflict, Invalid, NotFound, install_error_handlers
from mce.services.frontend.app import create_app
from mce.services.frontend.settings import FrontendSettings

ADMIN_TOKEN = "test-admin-token"
PRODUCT_FIELDS = ("name", "description", "price", "stock", "category", "image_url")


@dataclass
class Call:
    """One request a fake backend received."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any = None


def _record(calls: list[Call], request: Request, body: Any = None) -> None:
    calls.append(Call(request.method, request.url.path, dict(request.query_params), dict(request.headers), body))


SORT_KEYS = {
    "newest": (lambda p: p["id"], True),
    "id": (lambda p: p["id"], False),
    "name": (lambda p: p["name"].lower(), False),
    "price_asc": (lambda p: p["price"], False),
    "price_desc": (lambda p: p["price"], True),
}


@dataclass
class FakeCatalog:
    """The product service in memory, with the same routes, errors and admin check."""

    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def add(
        self,
        name: str,
        *,
        price: float = 10.0,
        stock: int = 10,
        category: str = "Electronics",
        description: str = "",
        image_url: str | None = None,
    ) -> dict[str, Any]:
        """Put a product in the catalog, as if created through the API."""
        product_id = max(self.products, default=0) + 1
        product = {
            "id": product_id,
            "name": name,
            "description": description,
            "price": price,
            "stock": stock,
            "category": category,
            "image_url": image_url,
            "thumbnail_url": None,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "version": 1,
        }
        self.products[product_id] = product
        return product

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The calls received for one method and path."""
        return [call for call in self.calls if call.method == method and call.path == path]

    def _product(self, product_id: int) -> dict[str, Any]:
        if product_id not in self.products:
            raise NotFound(f"product {product_id} not found")
        return self.products[product_id]

    def app(self) -> FastAPI:
        """The fake service as an ASGI app."""
        app = FastAPI()
        install_error_handlers(app)

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/products")
        async def list_products(
            request: Request,
            limit: int = Query(20, ge=1, le=100),
            offset: int = Query(0, ge=0),
            category: str | None = None,
            sort: str = "newest",
        ) -> dict[str, Any]:
            _record(self.calls, request)
            key, reverse = SORT_KEYS[sort]
            matching = [p for p in self.products.values() if not category or p["category"] == category]
            matching.sort(key=key, reverse=reverse)
            page = matching[offset : offset + limit]
            return {"items": page, "total": len(matching), "limit": limit, "offset": offset}

        @app.get("/products/{product_id}")
        async def get_product(request: Request, product_id: int) -> dict[str, Any]:
            _record(self.calls, request)
            return self._product(product_id)

        @app.get("/categories")
        async def categories(request: Request) -> dict[str, Any]:
            _record(self.calls, request)
            counts: dict[str, int] = {}
            for product in self.products.values():
                counts[product["category"]] = counts.get(product["category"], 0) + 1
            return {"items": [{"name": name, "count": count} for name, count in sorted(counts.items())]}

        @app.post("/products")
        async def create_product(request: Request, body: dict[str, Any] = Body(...)) -> JSONResponse:
            _record(self.calls, request, body)
            check_admin(request, ADMIN_TOKEN)
            if not str(body.get("name", "")).strip():
                raise Invalid(
                    "invalid request: name: String should have at least 1 character",
                    details=[{"field": "name", "message": "String should have at least 1 character"}],
                )
            product = self.add(**{key: body[key] for key in PRODUCT_FIELDS if key in body})
            return JSONResponse(product, status_code=201)

        @app.put("/products/{product_id}")
        async def update_product(request: Request, product_id: int, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
            _record(self.calls, request, body)
            check_admin(request, ADMIN_TOKEN)
            product = self._product(product_id)
            if "version" in body and body["version"] != product["version"]:
                raise Conflict(f"product {product_id} is at version {product['version']}")
            product.update({key: body[key] for key in PRODUCT_FIELDS if key in body})
            product["version"] += 1
            return product

        @app.delete("/products/{product_id}")
        async def delete_product(request: Request, product_id: int) -> Response:
            _record(self.calls, request)
            check_admin(request, ADMIN_TOKEN)
            self._product(product_id)
            del self.products[product_id]
            return Response(status_code=204)

        return app


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
                and (min_price is None or p["price"] >= min_price)
                and (max_price is None or p["price"] <= max_price)
            ]
            facets: dict[str, int] = {}
            for product in hits:
                facets[product["category"]] = facets.get(product["category"], 0) + 1
            if category:
                hits = [p for p in hits if p["category"] == category]
            if sort != "relevance":
                hits.sort(key=lambda p: p["price"], reverse=sort == "price_desc")
            return {
                "items": hits[offset : offset + limit],
                "total": len(hits),
                "facets": {"category": facets},
                "limit": limit,
                "offset": offset,
            }

        return app


class DownTransport(httpx.AsyncBaseTransport):
    """A backend that refuses every connection."""

    def __init__(self) -> None:
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        raise httpx.ConnectError("connection refused", request=request)


def frontend_client(
    data_dir: Path,
    catalog: FakeCatalog,
    *,
    search: FakeSearch | None = None,
    product_transport: httpx.AsyncBaseTransport | None = None,
    search_transport: httpx.AsyncBaseTransport | None = None,
) -> TestClient:
    """A test client for a frontend whose backends are the given fakes; no search means search is down."""
    settings = FrontendSettings(data_dir=data_dir, admin_token=ADMIN_TOKEN, session_secret="test-session-secret")
    app = create_app(
        settings,
        product_transport=product_transport or httpx.ASGITransport(app=catalog.app()),
        search_transport=search_transport
        or (httpx.ASGITransport(app=search.app()) if search is not None else DownTransport()),
    )
    return TestClient(app)
