"""Product pictures for browsers: the image processor's thumbnails, read from the blob store, cached for a year.

Only keys under thumbnails/ are served; uploads (an admin's original bytes, never checked by a browser) and anything
else are 404, whatever the spelling. Keys are unique to their content (an upload id each), so they never change.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from mce.kit.blob import BlobNotFound, BlobStore, check_key
from mce.kit.errors import Invalid, NotFound

router = APIRouter(include_in_schema=False)

PREFIX = "thumbnails/"
# The type comes from the key's extension, never from what was stored: only picture types are ever sent.
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
CACHE_FOREVER = "public, max-age=31536000, immutable"


def servable(key: str) -> str | None:
    """The content type to serve the key with, or None when it is not a thumbnail's key."""
    try:
        check_key(key)
    except Invalid:
        return None
    extension = key.rpartition(".")[2].lower()
    if not key.startswith(PREFIX) or "." not in key or extension not in CONTENT_TYPES:
        return None
    return CONTENT_TYPES[extension]


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether If-None-Match names this entity tag (weakly compared, as RFC 9110 asks for GET), or is '*'."""
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


@router.get("/images/{key:path}")
async def image(request: Request, key: str) -> Response:
    """A thumbnail with a year's caching and its ETag; 304 when the browser's copy is current (HEAD works too)."""
    content_type = servable(key)
    if content_type is None:
        raise NotFound("no such image")
    blobs: BlobStore = request.app.state.blobs
    info = await run_in_threadpool(blobs.head, key)
    if info is None:
        raise NotFound("no such image")
    etag = f'"{info.etag}"'
    headers = {"etag": etag, "cache-control": CACHE_FOREVER, "x-content-type-options": "nosniff"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    try:
        data, _ = await run_in_threadpool(blobs.get, key)
    except BlobNotFound:
        raise NotFound("no such image") from None
    return Response(data, media_type=content_type, headers=headers)
