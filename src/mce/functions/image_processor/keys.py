"""Which keys are uploads, and where their thumbnails go and are served from (pure: no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mce.kit.contracts import MAX_ID

# uploads/products/<product id>/<upload id>.<ext>: the only keys the processor reads. Anything else, its own
# thumbnails/ output above all, is ignored, whatever prefix filter the bucket's notification has.
UPLOAD_KEY = re.compile(
    r"^uploads/products/(?P<product_id>[1-9][0-9]{0,9})/(?P<upload_id>[0-9a-f]{32})\.(?P<ext>[a-z0-9]{1,10})$"
)
THUMBNAIL_WIDTHS = (128, 512)
# The frontend serves the blob store's objects under this path.
IMAGES_PATH = "/images/"


@dataclass(frozen=True)
class Upload:
    """One uploaded product photo, named by its key."""

    key: str
    product_id: int
    upload_id: str

    def thumbnail_key(self, width: int) -> str:
        """Where its thumbnail of that nominal width is written."""
        return f"thumbnails/products/{self.product_id}/{self.upload_id}-{width}.webp"

    def thumbnail_url(self, width: int) -> str:
        """The storefront's path to that thumbnail."""
        return IMAGES_PATH + self.thumbnail_key(width)


def parse_upload_key(key: str) -> Upload | None:
    """The upload a key names, or None when the key is not an upload's."""
    match = UPLOAD_KEY.fullmatch(key)
    if match is None or int(match["product_id"]) > MAX_ID:
        return None
    return Upload(key=key, product_id=int(match["product_id"]), upload_id=match["upload_id"])
