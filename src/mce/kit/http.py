"""A pooled HTTP client for service-to-service calls: timeouts, request ids, retries on idempotent calls."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from mce.kit.errors import Unavailable
from mce.kit.logs import request_id_var

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})
# Failures where the request never reached the server, so a retry cannot apply a change twice.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ServiceClient:
    """Calls one service; a connection failure or timeout becomes Unavailable after retries.

    Reads are retried on any network failure and on 502/503/504. Writes are retried only when the connection
    was never made: a PUT whose answer was lost may have applied, and a retry would see its own version as a
    conflict.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.05,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.retries = retries
        self.backoff_s = backoff_s
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            transport=transport,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request, retrying what is safe to retry."""
        method = method.upper()
        safe = method in SAFE_METHODS
        sent_headers = dict(headers or {})
        request_id = request_id_var.get()
        if request_id:
            sent_headers["x-request-id"] = request_id
        attempts = 1 + self.retries
        for attempt in range(1, attempts + 1):
            try:
                response = await self._client.request(
                    method, path, params=params, json=json, content=content, headers=sent_headers
                )
            except httpx.TransportError as exc:
                if attempt == attempts or not (safe or isinstance(exc, NOT_SENT)):
                    raise Unavailable(f"{self.name} service is unavailable ({type(exc).__name__})") from exc
            else:
                if not safe or response.status_code not in RETRYABLE_STATUSES or attempt == attempts:
                    return response
            log.info("retrying %s %s on %s (attempt %d/%d)", method, path, self.name, attempt + 1, attempts)
            await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET with retries."""
        return await self.request("GET", path, **kwargs)

    async def ping(self) -> None:
        """Raise unless the service's /healthz answers 200."""
        response = await self.request("GET", "/healthz")
        response.raise_for_status()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
