"""Product photos: what an upload may be, where it is kept, and what the image processor may report; no I/O.

An upload's type is sniffed from its first bytes, never taken from the client, and only its header is parsed, so an
image that would take gigabytes to decode is refused before anyone decodes it.
"""

from __future__ import annotations

import io
import re
import struct
import uuid
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from mce.kit.errors import Invalid, PayloadTooLarge, UnsupportedMediaType, problem

# Pillow's format name -> the extension the key gets and the type the object is stored with.
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
UPLOAD_KEY_MAX = 255
_UPLOAD_KEY = re.compile(r"^uploads/products/([1-9][0-9]{0,9})/([0-9a-f]{32})\.(jpg|png|webp)$")
# The image processor's widths: the big one is the product's image, the small one its thumbnail.
IMAGE_WIDTH, THUMBNAIL_WIDTH = 512, 128


@dataclass(frozen=True)
class CheckedImage:
    """An upload that passed: its sniffed format, the key's extension, its content type and its size in pixels."""

    format: str
    extension: str
    content_type: str
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """The image format the magic bytes say (JPEG, PNG, WEBP), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_image(data: bytes, *, max_bytes: int, max_pixels: int) -> CheckedImage:
    """The upload's facts, or 413 (too big), 415 (not JPEG, PNG or WebP) or 422 (unreadable, or absurd dimensions)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"an image may be at most {max_bytes} bytes", details=[problem("file", f"over {max_bytes} bytes")]
        )
    kind = sniff(data)
    if kind is None:
        raise UnsupportedMediaType(
            "only JPEG, PNG and WebP images are taken", details=[problem("file", "not a JPEG, PNG or WebP image")]
        )
    try:
        # Image.open reads the header only; formats= keeps Pillow from reading the bytes as anything else.
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise Invalid(
            f"the {kind} image cannot be read", details=[problem("file", f"a damaged or incomplete {kind} image")]
        ) from None
    if width < 1 or height < 1 or width * height > max_pixels:
        raise _too_many_pixels(max_pixels)
    extension, content_type = FORMATS[kind]
    return CheckedImage(kind, extension, content_type, width, height)


def _too_many_pixels(max_pixels: int) -> Invalid:
    return Invalid(
        f"an image may have at most {max_pixels} pixels",
        details=[problem("file", f"more than {max_pixels} pixels (a decompression bomb, or far too large a photo)")],
    )


def new_upload_key(product_id: int, extension: str) -> str:
    """Where a new upload of the product's picture is stored: uploads/products/<id>/<uuid4 hex>.<ext>."""
    return f"uploads/products/{product_id}/{uuid.uuid4().hex}.{extension}"


def upload_id_of(upload_key: str, product_id: int) -> str:
    """The upload id in a key of this product's uploads, or Invalid."""
    found = _UPLOAD_KEY.fullmatch(upload_key) if len(upload_key) <= UPLOAD_KEY_MAX else None
    if found is None or int(found.group(1)) != product_id:
        raise Invalid(
            f"upload_key is not an upload of product {product_id}",
            details=[problem("upload_key", f"must be uploads/products/{product_id}/<upload id>.<jpg|png|webp>")],
        )
    return found.group(2)


def image_urls(product_id: int, upload_id: str) -> tuple[str, str]:
    """(image_url, thumbnail_url): the addresses the processor's two thumbnails of an upload are served at."""
    base = f"/images/thumbnails/products/{product_id}/{upload_id}"
    return f"{base}-{IMAGE_WIDTH}.webp", f"{base}-{THUMBNAIL_WIDTH}.webp"


def check_processed(product_id: int, upload_key: str, image_url: str, thumbnail_url: str) -> None:
    """Refuse a processor's report whose key or URLs are not exactly this product's upload and its thumbnails."""
    expected_image, expected_thumbnail = image_urls(product_id, upload_id_of(upload_key, product_id))
    wrong = [
        problem(field, f"must be {expected}")
        for field, given, expected in (
            ("image_url", image_url, expected_image),
            ("thumbnail_url", thumbnail_url, expected_thumbnail),
        )
        if given != expected
    ]
    if wrong:
        raise Invalid("the image URLs are not this upload's thumbnails", details=wrong)


def image_status(product_id: int, upload_key: str | None, image_url: str | None, thumbnail_url: str | None) -> str:
    """'processing' while the current upload has no thumbnails yet, else 'ready' (a picture) or 'none'."""
    if upload_key is not None:
        upload_id = _UPLOAD_KEY.fullmatch(upload_key)
        if upload_id is not None and thumbnail_url != image_urls(product_id, upload_id.group(2))[1]:
            return "processing"
    return "ready" if image_url or thumbnail_url else "none"
