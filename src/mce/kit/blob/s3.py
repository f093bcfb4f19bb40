"""S3BlobStore: the bucket on S3 through boto3; S3 itself sends the object-created notifications (to SQS).

In production Terraform makes the bucket, the queue and the bucket's notification configuration; on a laptop
(moto) `ensure_bucket_notifications` makes them at start when they are missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from mce.kit.aws import error_code, translated_errors
from mce.kit.blob.port import BlobInfo, BlobNotFound, BlobStore, check_key

log = logging.getLogger(__name__)

WHAT = "blob store"
Notify = Callable[[str, BlobInfo], None]
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def _etag(value: str) -> str:
    """S3 quotes its ETags; a single-part upload's is the hex MD5 of the bytes."""
    return value.strip('"')


class S3BlobStore(BlobStore):
    """Objects in one S3 bucket; `notify(bucket, info)`, if given, is told of each put (S3 notifies SQS anyway)."""

    def __init__(self, client: Any, bucket: str, notify: Notify | None = None) -> None:
        self.client = client
        self.bucket = check_key(bucket)
        self.notify = notify

    def put(self, key: str, data: bytes, content_type: str) -> BlobInfo:
        """Store the bytes under the key (S3 replaces an object whole); then notify of the new object."""
        with translated_errors(WHAT):
            answer = self.client.put_object(Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type)
        info = BlobInfo(key=key, size=len(data), content_type=content_type, etag=_etag(answer["ETag"]))
        if self.notify is not None:
            self.notify(self.bucket, info)
        return info

    def get(self, key: str) -> tuple[bytes, BlobInfo]:
        """The object's bytes and info; BlobNotFound when there is none."""
        try:
            with translated_errors(WHAT):
                answer = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
                with contextlib.closing(answer["Body"]) as body:
                    data = body.read()
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                raise BlobNotFound(f"no object {key!r}") from None
            raise
        return data, BlobInfo(key, len(data), answer.get("ContentType", ""), _etag(answer["ETag"]))

    def head(self, key: str) -> BlobInfo | None:
        """The object's info, or None when there is none."""
        try:
            with translated_errors(WHAT):
                answer = self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        return BlobInfo(key, int(answer["ContentLength"]), answer.get("ContentType", ""), _etag(answer["ETag"]))

    def delete(self, key: str) -> None:
        """Remove the object; S3 answers the same when there is none."""
        with translated_errors(WHAT):
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def ping(self) -> None:
        """Raise unless the bucket exists and answers."""
        with translated_errors(WHAT):
            self.client.head_bucket(Bucket=self.bucket)

    def close(self) -> None:
        """Release the client's connections."""
        self.client.close()


def queue_url(sqs: Any, queue: str) -> str:
    """The URL of a queue given by URL or by name."""
    if queue.startswith(("http://", "https://")):
        return queue
    with translated_errors(WHAT):
        return sqs.get_queue_url(QueueName=queue)["QueueUrl"]


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def ensure_bucket_notifications(
    s3: Any, sqs: Any, bucket: str, queue: str, *, prefix: str, max_receives: int, visibility_s: int = 60
) -> str:
    """Make the bucket, the queue (with its dead-letter queue) and S3's ObjectCreated notification for the prefix,
    where missing (local mode only; several processes may do this at once). Returns the queue's URL.
    """
    with translated_errors(WHAT):
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        name = queue.rstrip("/").rsplit("/", 1)[-1]
        dead = sqs.create_queue(QueueName=f"{name}-dead-letter")["QueueUrl"]
        redrive = json.dumps({"deadLetterTargetArn": _queue_arn(sqs, dead), "maxReceiveCount": str(max_receives)})
        attributes = {"RedrivePolicy": redrive, "VisibilityTimeout": str(visibility_s)}
        try:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except ClientError as exc:
            if error_code(exc) not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            # Made before with other settings (another retry limit): take these.
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = _queue_arn(sqs, url)
        wanted = {
            "Id": "uploads-created",
            "QueueArn": arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
        }
        current = s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", [])
        # Writing it again would only send another s3:TestEvent; a configuration for this queue is left alone.
        if not any(config.get("QueueArn") == arn for config in current):
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [wanted]}
            )
            log.info("bucket %s notifies %s of objects created under %r", bucket, name, prefix)
    return url
