"""Object-created notifications in S3's event format, sent through the event bus to whoever processes uploads.

S3 delivers them to a Lambda at least once; locally a store publishes each one as an event whose `data` is the
very JSON S3 would send, so the same handler runs on both.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from mce.kit.blob.port import BlobInfo
from mce.kit.bus.port import EventBus
from mce.kit.events import Event

BLOB_CREATED = "BlobCreated"
BLOB_NOTIFICATIONS_TOPIC = "blob-notifications"


def s3_created_event(bucket: str, info: BlobInfo, *, region: str = "local") -> dict[str, Any]:
    """The S3 `ObjectCreated:Put` notification for one object, with its key URL-encoded as S3 encodes it."""
    now = datetime.now(UTC)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "mce"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "uploads",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "mce"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(info.key, safe="/"),
                        "size": info.size,
                        "eTag": info.etag,
                        # S3's sequencer orders one key's notifications; nanoseconds do the same here.
                        "sequencer": f"{time.time_ns():X}",
                    },
                },
            }
        ]
    }


class BusNotifier:
    """Publishes the S3 notification of objects created under a prefix (S3's notification filter) to a topic."""

    def __init__(self, bus: EventBus, topic: str = BLOB_NOTIFICATIONS_TOPIC, prefix: str = "uploads/") -> None:
        self.bus = bus
        self.topic = topic
        self.prefix = prefix

    def __call__(self, bucket: str, info: BlobInfo) -> None:
        """Notify of a created object, when its key is under the prefix."""
        if info.key.startswith(self.prefix):
            event = Event(type=BLOB_CREATED, key=info.key, data=s3_created_event(bucket, info))
            self.bus.publish(self.topic, [event])
