"""The AWS Lambda entry point: `handler(event, context)` for S3 ObjectCreated notifications.

Nothing is built at import: the first invocation builds the blob store and the product client from MCE_
environment variables, and warm invocations reuse them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from mce.functions.image_processor.processor import ImageProcessor
from mce.functions.image_processor.product import ProductImages
from mce.functions.image_processor.settings import ImageProcessorSettings
from mce.kit.blob.factory import build_blob_store
from mce.kit.settings import load_settings

log = logging.getLogger(__name__)

_built: ImageProcessor | None = None
_building = threading.Lock()


def build_processor(settings: ImageProcessorSettings) -> ImageProcessor:
    """The processor over the store and product service the settings name."""
    product = ProductImages(settings.product_url, settings.resolved_token(), timeout_s=settings.http_timeout)
    return ImageProcessor(
        build_blob_store(settings),
        product,
        max_bytes=settings.image_max_bytes,
        max_pixels=settings.image_max_pixels,
    )


def _processor() -> ImageProcessor:
    """The processor this process built on its first event."""
    global _built
    with _building:
        if _built is None:
            _built = build_processor(load_settings(ImageProcessorSettings))
        return _built


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Make thumbnails for each uploaded object in the event; raise (for a retry) only when a retry can help."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    outcomes = _processor().handle(event, (lambda: remaining() / 1000) if callable(remaining) else None)
    return {"records": [outcome.as_dict() for outcome in outcomes]}
