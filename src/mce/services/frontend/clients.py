"""Clients for the product and search services, and the errors that say which one failed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from fastapi import Response

from mce.kit.errors import DomainError, NotFound, Unavailable
from mce.kit.http import RETRYABLE_STATUSES, ServiceClient
from mce.services.frontend.settings import FrontendSettings

log = logging.getLogger(__name__)


class ProductUnavailable(Unavailable):
    """The product service does not answer."""

    code = "product_unavailable"


class SearchUnavailable(Unavailable):
    """The search service does not answer."""

    code = "search_unavailable"


class BadGateway(DomainError):
    """A backend answered with an error it should never give."""

    status = 502
    code = "bad_gateway"


class Backend(ServiceClient):
    """A ServiceClient whose outages name the backend, so the API and pages can tell which one is down."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        unavailable: type[Unavailable],
        on_write: Callable[[], None] = lambda: None,
        **options: Any,
    ) -> None:
        super().__init__(name, base_url, **options)
        self.unavailable = unavailable
        self.on_write = on_write

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; a backend that is down, or says it is, raises this backend's Unavailable."""
        try:
            response = await super().request(method, path, **kwargs)
        except Unavailable as exc:
            raise self.unavailable(exc.message) from exc
        finally:
            if method.upper() not in ("GET", "HEAD", "OPTIONS"):
                # Whatever the outcome, the backend may have changed: cached reads must not outlive the write.
                self.on_write()
        if response.status_code in RETRYABLE_STATUSES:
            raise self.unavailable(f"{self.name} service is unavailable ({response.status_code})")
        return response

    async def relay(self, method: str, path: str, **kwargs: Any) -> Response:
        """Forward a call and hand back the backend's status and JSON bytes as they are."""
        response = await self.request(method, path, **kwargs)
        if response.status_code >= 500:
            raise self.failed(response)
        if not response.content:
            return Response(status_code=response.status_code)
        return Response(response.content, status_code=response.status_code, media_type="application/json")

    async def fetch_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON document; 404 raises NotFound, any other failure BadGateway."""
        response = await self.request("GET", path, params=params)
        if response.status_code == 404:
            raise NotFound(f"{self.name} has nothing at {path}")
        if response.status_code != 200:
            raise self.failed(response)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise self.failed(response) from None

    def failed(self, response: httpx.Response) -> BadGateway:
        """The error for an answer the frontend cannot use, logged with what the backend said."""
        log.error(
            "%s answered %s %d",
            self.name,
            response.request.url.path,
            response.status_code,
            extra={"backend_body": response.text[:500]},
        )
        return BadGateway(f"{self.name} service failed ({response.status_code})")


@dataclass(frozen=True)
class Backends:
    """The services the frontend calls."""

    product: Backend
    search: Backend

    async def aclose(self) -> None:
        """Close every client's connections."""
        await self.product.aclose()
        await self.search.aclose()


def open_backends(
    settings: FrontendSettings,
    *,
    product_transport: httpx.AsyncBaseTransport | None = None,
    search_transport: httpx.AsyncBaseTransport | None = None,
    on_catalog_write: Callable[[], None] = lambda: None,
) -> Backends:
    """Pooled clients for product and search; transports let tests put fakes behind them."""
    return Backends(
        product=Backend(
            "product",
            settings.product_url,
            unavailable=ProductUnavailable,
            on_write=on_catalog_write,
            timeout=settings.http_timeout,
            transport=product_transport,
        ),
        search=Backend(
            "search",
            settings.search_url,
            unavailable=SearchUnavailable,
            timeout=settings.http_timeout,
            transport=search_transport,
        ),
    )
