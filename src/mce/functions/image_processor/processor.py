"""The image processor's work for one S3 event: per record, thumbnails written and the product service told.

Idempotent: thumbnails are deterministic bytes under keys named by the upload, an object already holding those
bytes is not written again, and the product service is told the same URLs each time, which sets the same state.
A bad image is an outcome, not an exception (retrying cannot help); a product service that cannot be reached
raises, so the Lambda or the local runner retries the event.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus

from mce.functions.image_processor.keys import THUMBNAIL_WIDTHS, Upload, parse_upload_key
from mce.functions.image_processor.product import ImageUpdate, ProductImages
from mce.functions.image_processor.thumbnails import Rejected, make_thumbnails
from mce.kit.blob.port import BlobNotFound, BlobStore

log = logging.getLogger(__name__)

WEBP = "image/webp"
# Time kept back from a Lambda's remaining time, so a slow product call fails in the handler, not by the timeout.
_DEADLINE_MARGIN_S = 1.0


@dataclass(frozen=True)
class Outcome:
    """What became of one record: processed (and what product did), ignored, rejected or missing, and why."""

    key: str
    outcome: str
    reason: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The outcome as the Lambda returns it."""
        return asdict(self)


def created_keys(event: Mapping[str, Any]) -> list[tuple[str, str] | Outcome]:
    """(bucket, key) of each ObjectCreated record, key URL-decoded as S3 encodes it; an Outcome for each other."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        return [Outcome("", "ignored", "not an S3 event (no Records list)")]
    found: list[tuple[str, str] | Outcome] = []
    for record in records:
        try:
            name = record["eventName"]
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])
        except (KeyError, TypeError) as exc:
            found.append(Outcome("", "ignored", f"not an S3 record (missing {exc})"))
            continue
        if not isinstance(name, str) or not name.startswith("ObjectCreated:"):
            found.append(Outcome(key, "ignored", f"event {name!r} is not an object creation"))
        else:
            found.append((bucket, key))
    return found


class ImageProcessor:
    """Makes a product upload's thumbnails in the blob store and tells the product service their URLs."""

    def __init__(
        self,
        store: BlobStore,
        product: ProductImages,
        *,
        max_bytes: int,
        max_pixels: int,
        widths: tuple[int, ...] = THUMBNAIL_WIDTHS,
    ) -> None:
        self.store = store
        self.product = product
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.widths = widths

    def handle(self, event: Mapping[str, Any], remaining_s: Callable[[], float] | None = None) -> list[Outcome]:
        """Process every record of an S3 event; raises ProductUnavailable (or a store error) for a retry."""
        outcomes = []
        for item in created_keys(event):
            if isinstance(item, Outcome):
                log.info("ignored a record: %s", item.reason)
                outcomes.append(item)
                continue
            bucket, key = item
            began = time.perf_counter()
            outcome = self.process(bucket, key, remaining_s)
            outcomes.append(Outcome(outcome.key, outcome.outcome, outcome.reason, time.perf_counter() - began))
        return outcomes

    def process(self, bucket: str, key: str, remaining_s: Callable[[], float] | None = None) -> Outcome:
        """Thumbnails for one created object, and the product service told; an Outcome saying what happened."""
        if bucket != self.store.bucket:
            log.warning("ignored %r: bucket %r is not %r", key, bucket, self.store.bucket)
            return Outcome(key, "ignored", f"bucket {bucket!r} is not the uploads bucket")
        upload = parse_upload_key(key)
        if upload is None:
            # Our own thumbnails/ output lands here too, should a notification filter ever let it through.
            log.info("ignored %r: not an upload key (uploads/products/<id>/<32 hex>.<ext>)", key)
            return Outcome(key, "ignored", "not an upload key")
        info = self.store.head(key)
        if info is None:
            log.warning("upload %s is gone; nothing to do", key)
            return Outcome(key, "missing", "the object is gone")
        if info.size > self.max_bytes:
            return self._rejected(upload, "too_large", f"{info.size} bytes, more than {self.max_bytes}")
        try:
            data, _ = self.store.get(key)
        except BlobNotFound:
            log.warning("upload %s is gone; nothing to do", key)
            return Outcome(key, "missing", "the object is gone")
        try:
            thumbnails = make_thumbnails(data, self.widths, max_pixels=self.max_pixels)
        except Rejected as exc:
            return self._rejected(upload, exc.reason, exc.message)
        for thumbnail in thumbnails:
            self._write_once(upload.thumbnail_key(thumbnail.nominal_width), thumbnail.data)
        return self._tell_product(upload, remaining_s)

    def _rejected(self, upload: Upload, reason: str, message: str) -> Outcome:
        """Log why an upload makes no thumbnails."""
        log.warning("rejected upload %s for product %d: %s (%s)", upload.key, upload.product_id, reason, message)
        return Outcome(upload.key, "rejected", reason)

    def _write_once(self, key: str, data: bytes) -> None:
        """Write the object unless it already holds exactly these bytes (a redelivered event)."""
        existing = self.store.head(key)
        if existing is not None and existing.etag == hashlib.md5(data).hexdigest() and existing.size == len(data):
            return
        self.store.put(key, data, WEBP)

    def _tell_product(self, upload: Upload, remaining_s: Callable[[], float] | None) -> Outcome:
        """Give the product service the thumbnails' URLs; 409 and 404 are logged and final."""
        timeout = None
        if remaining_s is not None:
            timeout = max(0.1, min(self.product.timeout_s, remaining_s() - _DEADLINE_MARGIN_S))
        result = self.product.set_image(
            upload.product_id,
            upload_key=upload.key,
            image_url=upload.thumbnail_url(max(self.widths)),
            thumbnail_url=upload.thumbnail_url(min(self.widths)),
            timeout_s=timeout,
        )
        if result is ImageUpdate.APPLIED:
            log.info("thumbnails of %s are product %d's image now", upload.key, upload.product_id)
        elif result is ImageUpdate.SUPERSEDED:
            log.info("upload %s is no longer product %d's current one; left as is", upload.key, upload.product_id)
        else:
            log.info("product %d is gone; thumbnails of %s are not used", upload.product_id, upload.key)
        return Outcome(upload.key, "processed", result.value)
