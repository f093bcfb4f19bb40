"""Build the BlobStore a setting names; the only place that switches on MCE_BLOB_STORE."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mce.kit.blob.notifications import BLOB_NOTIFICATIONS_TOPIC, BusNotifier
from mce.kit.blob.port import BlobStore
from mce.kit.bus.port import EventBus
from mce.kit.settings import BaseServiceSettings, SettingsError

BLOB_STORE_CHOICES = ("filesystem",)


class BlobSettings(BaseServiceSettings):
    """Settings of a service that reads or writes the blob store."""

    # filesystem = a directory under the data directory (S3 comes with the real backends).
    blob_store: Literal["filesystem"] = "filesystem"
    blob_bucket: str = Field(default="mce-uploads", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")
    # Where object-created notifications go, and which keys notify (S3's notification filter): uploads only, so
    # what the image processor writes under thumbnails/ can never start it again.
    blob_notifications_topic: str = BLOB_NOTIFICATIONS_TOPIC
    blob_notify_prefix: str = "uploads/"


def build_blob_store(settings: BlobSettings, bus: EventBus | None = None) -> BlobStore:
    """The store for MCE_BLOB_STORE; with a bus, it notifies of objects created under the notify prefix."""
    if settings.blob_store == "filesystem":
        from mce.kit.blob.filesystem import FilesystemBlobStore

        notify = BusNotifier(bus, settings.blob_notifications_topic, settings.blob_notify_prefix) if bus else None
        return FilesystemBlobStore(settings.data_dir / "blobs", settings.blob_bucket, notify)
    allowed = ", ".join(BLOB_STORE_CHOICES)
    raise SettingsError(f"MCE_BLOB_STORE: unknown store {settings.blob_store!r}; allowed: {allowed}")
