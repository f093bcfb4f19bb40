"""Settings of the image processor, from MCE_ environment variables (all a Lambda has)."""

from __future__ import annotations

from pydantic import Field

from mce.kit.blob.factory import BlobSettings
from mce.kit.secrets import resolve_secret
from mce.kit.settings import ServiceUrl

TOKEN_SECRET = "image-processor-token"


class ImageProcessorSettings(BlobSettings):
    """Where the uploads are, where the product service answers, and what the processor accepts."""

    product_url: ServiceUrl = "http://127.0.0.1:8001"
    # The processor's own credential for the product service's image endpoint (not the admin token). Unset on a
    # laptop: generated once under the data directory, where the product service finds it. Required in production.
    image_processor_token: str | None = None
    # Uploads larger than this are refused before they are read.
    image_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    # Images declaring more pixels than this are refused before a pixel is decoded (a 50 MP RGBA image decodes
    # to 200 MB; a 48 MP phone photo fits).
    image_max_pixels: int = Field(default=50_000_000, ge=10_000, le=89_000_000)

    def resolved_token(self) -> str:
        """The token given, or (not in production) the one kept under the data directory, made on first use."""
        return resolve_secret(
            self.image_processor_token, name=TOKEN_SECRET, data_dir=self.data_dir, production=self.production
        )
