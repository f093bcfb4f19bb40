"""Product service settings (MCE_ environment variables)."""

from __future__ import annotations

from pydantic import Field

from mce.kit.blob.factory import BlobSettings
from mce.kit.bus.factory import BusSettings
from mce.kit.settings import DatabaseSettings

DATABASE_NAME = "product"
# Pillow itself warns above 89.5 million pixels and refuses twice that: a setting may not go past its warning.
PILLOW_PIXEL_WARNING = 89_478_485


class ProductSettings(DatabaseSettings, BusSettings, BlobSettings):
    """Where the catalog lives, who may change it, and what a product photo may be."""

    # Unset on a laptop: generated once under the data directory. Required in production.
    admin_token: str | None = None
    # The image processor's own credential, good for reporting thumbnails and nothing else; unset on a laptop:
    # generated under the data directory like the admin token. Required in production.
    image_processor_token: str | None = None
    # Wrong admin tokens a client may present within the window before it gets 429.
    auth_failure_limit: int = Field(default=10, ge=1, le=10_000)
    auth_failure_window_s: float = Field(default=600.0, gt=0, le=86_400)
    # The most bytes an uploaded photo may have (413 beyond), and the most pixels its header may claim (422 beyond:
    # a small file that would decode to gigabytes is a decompression bomb).
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    upload_max_pixels: int = Field(default=50_000_000, ge=1, le=PILLOW_PIXEL_WARNING)

    def resolved_url(self) -> str:
        """The configured database URL, or the embedded SQLite file <data dir>/product.db."""
        return self.resolved_database_url(DATABASE_NAME)
