"""Build the BlobStore a setting names; the only place that switches on MCE_BLOB_STORE."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from mce.kit.blob.notifications import BLOB_NOTIFICATIONS_TOPIC, BusNotifier
from mce.kit.blob.port import BlobStore
from mce.kit.bus.port import EventBus
from mce.kit.settings import BaseServiceSettings, SettingsError

BLOB_STORE_CHOICES = ("filesystem", "s3")


class BlobSettings(BaseServiceSettings):
    """Settings of a service that reads or writes the blob store."""

    # filesystem = a directory under the data directory; s3 = S3 through boto3 (AWS_ENDPOINT_URL, AWS_REGION, ...).
    blob_store: Literal["filesystem", "s3"] = "filesystem"
    blob_bucket: str = Field(
        default="mce-uploads",
        pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$",
        validation_alias=AliasChoices("MCE_BLOB_BUCKET", "S3_BUCKET"),
    )
    # On S3 the bucket itself notifies this SQS queue (a name or a URL) of objects created under the notify prefix;
    # after this many receives without success a notification moves to <queue>-dead-letter.
    blob_queue: str = Field(
        default="mce-uploads-created", min_length=1, validation_alias=AliasChoices("MCE_BLOB_QUEUE", "SQS_QUEUE_URL")
    )
    blob_queue_max_receives: int = Field(default=5, ge=1, le=1000)
    # Where object-created notifications go, and which keys notify (S3's notification filter): uploads only, so
    # what the image processor writes under thumbnails/ can never start it again.
    blob_notifications_topic: str = BLOB_NOTIFICATIONS_TOPIC
    blob_notify_prefix: str = "uploads/"


def build_blob_store(settings: BlobSettings, bus: EventBus | None = None) -> BlobStore:
    """The store for MCE_BLOB_STORE; the filesystem's notifies the bus of objects created under the notify prefix."""
    if settings.blob_store == "filesystem":
        from mce.kit.blob.filesystem import FilesystemBlobStore

        notify = BusNotifier(bus, settings.blob_notifications_topic, settings.blob_notify_prefix) if bus else None
        return FilesystemBlobStore(settings.data_dir / "blobs", settings.blob_bucket, notify)
    if settings.blob_store == "s3":
        from mce.kit.aws import aws_client
        from mce.kit.blob.s3 import S3BlobStore, ensure_bucket_notifications

        local = not settings.production
        s3 = aws_client("s3", local=local, timeout_s=settings.http_timeout)
        if local:
            # Terraform makes all this in production; on a laptop the first service to start does.
            sqs = aws_client("sqs", local=True, timeout_s=settings.http_timeout)
            try:
                ensure_bucket_notifications(
                    s3,
                    sqs,
                    settings.blob_bucket,
                    settings.blob_queue,
                    prefix=settings.blob_notify_prefix,
                    max_receives=settings.blob_queue_max_receives,
                )
            finally:
                sqs.close()
        # No notifier: S3 sends its own notifications, to the queue.
        return S3BlobStore(s3, settings.blob_bucket)
    allowed = ", ".join(BLOB_STORE_CHOICES)
    raise SettingsError(f"MCE_BLOB_STORE: unknown store {settings.blob_store!r}; allowed: {allowed}")
