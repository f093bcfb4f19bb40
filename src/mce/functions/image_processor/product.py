"""The call that tells the product service a product's new image URLs, over the stdlib's urllib.

urllib, not aiohttp or httpx: the Lambda handler is synchronous and makes one call per image, so an event loop or
a pooled client would buy nothing, and the Lambda package needs no HTTP library at all.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from enum import Enum

from mce.kit.errors import Unavailable

log = logging.getLogger(__name__)

# Statuses that say the product service is down or busy for now: the same call can succeed later.
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})


class ImageUpdate(Enum):
    """What the product service did with an image update."""

    APPLIED = "applied"
    SUPERSEDED = "superseded"  # 409: a newer upload is the product's image now
    PRODUCT_GONE = "product_gone"  # 404: the product was deleted


class ProductUnavailable(Unavailable):
    """The product service did not answer, or answered that it cannot now: retry the event later."""


class ProductRefused(RuntimeError):
    """The product service refused the call itself (a bad token, a malformed body): retrying as is cannot help."""


class ProductImages:
    """Sets a product's image fields through the product service's internal endpoint, as the image processor."""

    def __init__(self, base_url: str, token: str, *, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s
        # Calls inside the platform never go through an HTTP proxy the environment may name (aiohttp, which the
        # services use, ignores those variables too).
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def set_image(
        self, product_id: int, *, upload_key: str, image_url: str, thumbnail_url: str, timeout_s: float | None = None
    ) -> ImageUpdate:
        """PUT the image URLs of one upload; APPLIED, SUPERSEDED or PRODUCT_GONE, else ProductUnavailable/Refused."""
        body = json.dumps({"upload_key": upload_key, "image_url": image_url, "thumbnail_url": thumbnail_url})
        request = urllib.request.Request(
            f"{self.base_url}/products/{product_id}/image",
            data=body.encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=timeout_s or self.timeout_s) as response:
                response.read()
                return ImageUpdate.APPLIED
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", errors="replace")
            exc.close()
            if exc.code == 409:
                return ImageUpdate.SUPERSEDED
            if exc.code == 404:
                return ImageUpdate.PRODUCT_GONE
            if exc.code in _TRANSIENT:
                raise ProductUnavailable(f"product answered {exc.code}: {detail}", service="product") from None
            raise ProductRefused(f"product refused the image update with {exc.code}: {detail}") from None
        # Refused, reset, unreachable, timed out (URLError is an OSError), or an answer cut short.
        except (OSError, http.client.HTTPException) as exc:
            raise ProductUnavailable(f"product did not answer: {exc}", service="product") from None
