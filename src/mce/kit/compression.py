"""Gzip for clients that ask for it, with ISA-L: the same gzip any client reads, in a quarter of zlib's time.

Measured here on a page of 20 products (8 KB of JSON): ISA-L's level 2 takes 16 us and makes 2,339 bytes, zlib's
level 5 62 us and 2,281 bytes.
"""

from __future__ import annotations

from isal import igzip, isal_zlib
from starlette.middleware.gzip import GZipResponder
from starlette.types import ASGIApp, Receive, Scope, Send

GZIP_LEVEL = 2
# Smaller answers gain too little to be worth the CPU.
GZIP_MIN_BYTES = 1024


def compress(body: bytes) -> bytes:
    """A whole body as one gzip member."""
    return igzip.compress(body, compresslevel=GZIP_LEVEL)


def accepts_gzip(scope: Scope) -> bool:
    """Whether the request's Accept-Encoding names gzip (as Starlette's gzip middleware reads it)."""
    return any(name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"])


class _IsalGzipResponder(GZipResponder):
    """Starlette's gzip responder (what to compress, headers, streaming), compressing with ISA-L."""

    @property
    def compressor(self) -> isal_zlib.Compress:
        if self._compressor is None:
            self._compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 16 + isal_zlib.MAX_WBITS)
        return self._compressor


class GzipWhenAccepted:
    """Gzip for the requests that accept it; the rest go straight to the app.

    Starlette's middleware wraps every response, compressed or not, which cost a tenth of a catalog read's Python
    time on the product service, whose caller (the gateway) never accepts gzip. An answer to such a caller carries
    no `Vary: Accept-Encoding`: it is the identity form, which any client can read, so a cache may serve it to all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and accepts_gzip(scope):
            await _IsalGzipResponder(self.app, GZIP_MIN_BYTES, GZIP_LEVEL)(scope, receive, send)
        else:
            await self.app(scope, receive, send)
