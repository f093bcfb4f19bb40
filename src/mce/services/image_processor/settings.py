"""Settings of the local image-processor runner (MCE_ environment variables)."""

from __future__ import annotations

from pydantic import Field

from mce.functions.image_processor.settings import ImageProcessorSettings
from mce.kit.bus.factory import BusSettings


class ImageProcessorServiceSettings(ImageProcessorSettings, BusSettings):
    """The image processor's own settings, and the bus its notifications come over."""

    # Notifications handled per batch; each image takes some 15 ms, so a small batch keeps a stop prompt.
    image_batch_size: int = Field(default=10, ge=1, le=500)
