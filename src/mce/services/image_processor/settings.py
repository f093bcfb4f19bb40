"""Settings of the local image-processor runner (MCE_ environment variables)."""

from __future__ import annotations

from pydantic import Field

from mce.functions.image_processor.settings import ImageProcessorSettings
from mce.kit.bus.factory import BusSettings


class ImageProcessorServiceSettings(ImageProcessorSettings, BusSettings):
    """The image processor's own settings, and the bus its notifications come over."""

    # Notifications handled per batch; each image takes some 15 ms, so a small batch keeps a stop prompt.
    image_batch_size: int = Field(default=10, ge=1, le=500)
    # On S3 (MCE_BLOB_STORE=s3) notifications come from SQS: each receive waits up to this long for a message (a
    # stop waits for it too), and a message that failed comes back after this many seconds times its receive count.
    image_queue_wait_s: int = Field(default=5, ge=0, le=20)
    image_queue_retry_s: int = Field(default=10, ge=0, le=900)
