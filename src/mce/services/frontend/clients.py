"""Clients for the product and search services, and what their answers mean to the gateway and the pages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Response

from mce.kit.errors import DomainError, Unavailable, problem
from mce.kit.http import HttpResponse, ServiceClient, Transport
from mce.kit.idempotency import new_key
from mce.services.frontend.settings import FrontendSettings

log = logging.getLogger(__name__)

# Headers of a backend's answer that the gateway passes on to its caller.
PASSED_HEADERS = ("retry-after", "www-authenticate", "idempotent-replayed")


class BadGateway(DomainError):
    """A backend answered with an error it should never give."""

    status = 502
    code = "bad_gateway"


class BackendRefused(DomainError):
    """A backend refused the request with a 4xx; pages show it as a friendly error with the same status."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = str(error.get("message") or "the request was refused")
        details = [d for d in error.get("details", []) if isinstance(d, dict) and "field" in d and "message" in d]
        super().__init__(message, details=details)
        self.status = status
        self.code = str(error.get("code") or "refused")
        self.body = body


class Backend(ServiceClient):
    """A ServiceClient that maps what the backend says for the gateway (relay) and for the pages (fetch_json)."""

    def __init__(
        self, name: str, base_url: str, *, on_write: Callable[[], None] = lambda: None, **options: Any
    ) -> None:
        super().__init__(name, base_url, **options)
        self.on_write = on_write

    async def request(self, method: str, path: str, **kwargs: Any) -> HttpResponse:
        """Send a request; a backend that is down, or says it is, raises Unavailable naming it."""
        try:
            response = await super().request(method, path, **kwargs)
        finally:
            if method.upper() not in ("GET", "HEAD", "OPTIONS"):
                # Whatever the outcome, the backend may have changed: cached reads must not outlive the write.
                self.on_write()
        if response.status in (502, 503, 504):
            retry_after = response.headers.get("retry-after", "1")
            raise Unavailable(
                f"the {self.name} service is unavailable",
                service=self.name,
                retry_after_s=int(retry_after) if retry_after.isdigit() else 1,
                details=[problem("", f"{self.name} answered {response.status}")],
            )
        return response

    async def relay(self, method: str, path: str, *, location_prefix: str = "/api", **kwargs: Any) -> Response:
        """Forward a call; the backend's status and JSON body go back as they are (4xx included), 5xx becomes 502."""
        response = await self.request(method, path, **kwargs)
        if response.status >= 500:
            raise self.failed(response)
        headers = {name: response.headers[name] for name in PASSED_HEADERS if name in response.headers}
        if "location" in response.headers:
            headers["location"] = location_prefix + response.headers["location"]
        if not response.content:
            return Response(status_code=response.status, headers=headers)
        return Response(response.content, status_code=response.status, headers=headers, media_type="application/json")

    async def fetch_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON document; a 4xx raises BackendRefused with that status, anything else unusable BadGateway."""
        return await self.fetch_json_with(path, params)

    async def fetch_json_with(
        self, path: str, params: Mapping[str, Any] | None = None, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        """fetch_json with headers of its own (a staff credential)."""
        response = await self.request("GET", path, params=params, headers=headers)
        if 400 <= response.status < 500:
            raise BackendRefused(response.status, _json_or_none(response))
        if response.status != 200:
            raise self.failed(response)
        body = _json_or_none(response)
        if body is None:
            raise self.failed(response)
        return body

    async def fetch_json_write(
        self, method: str, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        """Send a write and read its JSON answer; a 4xx raises BackendRefused with that status, like fetch_json."""
        answer, _replayed = await self.write_json(method, path, body, headers=headers)
        return answer

    async def write_json(
        self, method: str, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None
    ) -> tuple[Any, bool]:
        """fetch_json_write, with whether the answer is the replay of an earlier one under the same idempotency key."""
        response = await self.request(method, path, json=body, headers=headers)
        if 400 <= response.status < 500:
            raise BackendRefused(response.status, _json_or_none(response))
        if response.status >= 300:
            raise self.failed(response)
        return _json_or_none(response), response.headers.get("idempotent-replayed") == "true"

    def failed(self, response: HttpResponse) -> BadGateway:
        """The error for an answer the frontend cannot use, logged with what the backend said."""
        log.error("%s answered %d", self.name, response.status, extra={"backend_body": response.text[:500]})
        return BadGateway(f"the {self.name} service failed ({response.status})")


def _json_or_none(response: HttpResponse) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def write_headers(authorization: str, idempotency_key: str | None) -> dict[str, str]:
    """Headers of a write on an admin's behalf: their credential, and a key so a retry is never applied twice."""
    return {"authorization": authorization, "idempotency-key": idempotency_key or new_key()}


@dataclass(frozen=True)
class Backends:
    """The services the frontend calls."""

    product: Backend
    search: Backend
    cart: Backend
    order: Backend
    analytics: Backend

    async def aclose(self) -> None:
        """Close every client's connections."""
        for backend in (self.product, self.search, self.cart, self.order, self.analytics):
            await backend.aclose()


def open_backends(
    settings: FrontendSettings,
    *,
    product_transport: Transport | None = None,
    search_transport: Transport | None = None,
    cart_transport: Transport | None = None,
    order_transport: Transport | None = None,
    analytics_transport: Transport | None = None,
    on_catalog_write: Callable[[], None] = lambda: None,
) -> Backends:
    """Pooled clients for product, search, cart, order and analytics; transports let tests put fakes behind them."""
    return Backends(
        product=Backend(
            "product",
            settings.product_url,
            on_write=on_catalog_write,
            timeout=settings.http_timeout,
            transport=product_transport,
        ),
        search=Backend("search", settings.search_url, timeout=settings.http_timeout, transport=search_transport),
        cart=Backend("cart", settings.cart_url, timeout=settings.http_timeout, transport=cart_transport),
        order=Backend("order", settings.order_url, timeout=settings.http_timeout, transport=order_transport),
        analytics=Backend(
            "analytics", settings.analytics_url, timeout=settings.http_timeout, transport=analytics_transport
        ),
    )
