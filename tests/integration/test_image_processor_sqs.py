"""The image processor on S3 (moto): the bucket notifies SQS of uploads, the runner long-polls it, product is told."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mce.kit.aws import aws_client
from mce.kit.blob.s3 import S3BlobStore, ensure_bucket_notifications
from mce.services.image_processor.app import create_app
from mce.services.image_processor.settings import ImageProcessorServiceSettings
from tests.conftest import free_port
from tests.fakes.product_images import FakeProductImages
from tests.images import marked_jpeg
from tests.inprocess import IN_PROCESS

pytestmark = pytest.mark.aws

TOKEN = "runner-token-for-tests-0123456789"


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def upload_id(n: int) -> str:
    return f"{n:032x}"


class Runner:
    """The runner on its own bucket and queue, an S3 store for the test's uploads, and the fake product."""

    def __init__(self, data_dir: Path, product: FakeProductImages, **overrides: Any) -> None:
        suffix = uuid.uuid4().hex[:12]
        self.bucket, self.queue = f"uploads-{suffix}", f"uploads-created-{suffix}"
        self.product = product
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "blob_store": "s3",
            "blob_bucket": self.bucket,
            "blob_queue": self.queue,
            "blob_queue_max_receives": 2,
            "image_queue_wait_s": 1,
            "image_queue_retry_s": 0,
            "product_url": product.url,
            "image_processor_token": TOKEN,
            "http_timeout": 1,
            **IN_PROCESS,
        }
        self.settings = ImageProcessorServiceSettings(**(values | overrides))
        self.client = TestClient(create_app(self.settings))
        self.uploads = S3BlobStore(aws_client("s3", local=True), self.bucket)
        self.sqs = aws_client("sqs", local=True)

    def upload(self, product_id: int, n: int, data: bytes) -> str:
        key = f"uploads/products/{product_id}/{upload_id(n)}.jpg"
        self.product.current_upload[product_id] = key
        self.uploads.put(key, data, "image/jpeg")
        return key

    def stats(self) -> dict:
        return self.client.get("/stats").json()["consumer"]

    def metric(self, name: str) -> float:
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    def waiting(self, queue: str) -> int:
        """Messages in a queue, visible or in flight."""
        url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def close(self) -> None:
        self.uploads.close()
        self.sqs.close()


@pytest.fixture
def product() -> Iterator[FakeProductImages]:
    fake = FakeProductImages(TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def runner(aws_endpoint_url: str, tmp_path: Path, product: FakeProductImages) -> Iterator[Runner]:
    running = Runner(tmp_path, product)
    with running.client:
        yield running
    running.close()


def test_an_image_put_under_uploads_in_s3_gets_thumbnails_and_product_is_told(runner: Runner) -> None:
    key = runner.upload(7, 1, marked_jpeg(1600, 1200, orientation=6))
    assert eventually(lambda: 7 in runner.product.images)
    assert runner.product.calls[0][1]["upload_key"] == key
    assert runner.product.images[7]["image_url"] == f"/images/thumbnails/products/7/{upload_id(1)}-512.webp"
    for width in (128, 512):
        thumbnail = runner.uploads.head(f"thumbnails/products/7/{upload_id(1)}-{width}.webp")
        assert thumbnail is not None and thumbnail.content_type == "image/webp"
    assert eventually(lambda: runner.metric('image_processor_processed_total{product="applied"}') == 1)
    assert eventually(lambda: runner.waiting(runner.queue) == 0)  # deleted once handled
    stats = runner.stats()
    assert stats["alive"] and stats["test_events"] == 1 and stats["failed"] == 0
    assert runner.client.get("/readyz").json()["checks"] == {"blob_store": "ok", "queue": "ok", "consumer": "ok"}


def test_writing_thumbnails_or_outside_uploads_sends_no_notification(aws_endpoint_url: str) -> None:
    s3, sqs = aws_client("s3", local=True), aws_client("sqs", local=True)
    suffix = uuid.uuid4().hex[:12]
    bucket = f"quiet-{suffix}"
    url = ensure_bucket_notifications(s3, sqs, bucket, f"quiet-{suffix}", prefix="uploads/", max_receives=2)

    def bodies() -> list[dict]:
        found: list[dict] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            found += [json.loads(m["Body"]) for m in messages]
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return found

    assert [body.get("Event") for body in bodies()] == ["s3:TestEvent"]
    s3.put_object(Bucket=bucket, Key="thumbnails/products/7/x-128.webp", Body=b"webp")
    s3.put_object(Bucket=bucket, Key="uploadsX/elsewhere.jpg", Body=b"jpeg")
    assert bodies() == []
    s3.put_object(Bucket=bucket, Key="uploads/a b+c.jpg", Body=b"jpeg")
    (created,) = bodies()
    record = created["Records"][0]
    assert record["eventName"].startswith("ObjectCreated:")
    # The key arrives URL-encoded, as S3 sends it; the processor decodes it (processor.created_keys).
    assert record["s3"]["object"]["key"] != "uploads/a b+c.jpg"
    ensure_bucket_notifications(s3, sqs, bucket, f"quiet-{suffix}", prefix="uploads/", max_receives=2)
    assert bodies() == []  # made again at the next start: no second test message
    s3.close()
    sqs.close()


def test_a_failed_message_comes_back_until_product_answers(aws_endpoint_url: str, tmp_path: Path) -> None:
    product = FakeProductImages(TOKEN, port=free_port())
    running = Runner(tmp_path, product, blob_queue_max_receives=50)
    try:
        with running.client:
            running.upload(7, 1, marked_jpeg(800, 600))
            assert eventually(lambda: running.stats()["failed"] >= 2)
            assert running.stats()["last_error"].startswith("ProductUnavailable")
            product.start()
            try:
                assert eventually(lambda: 7 in product.images)
                assert eventually(lambda: running.waiting(running.queue) == 0)
            finally:
                product.stop()
    finally:
        running.close()


def test_a_message_that_never_succeeds_goes_to_the_dead_letter_queue(runner: Runner) -> None:
    url = runner.sqs.get_queue_url(QueueName=runner.queue)["QueueUrl"]
    runner.sqs.send_message(QueueUrl=url, MessageBody="this is not JSON")
    assert eventually(lambda: runner.waiting(f"{runner.queue}-dead-letter") == 1)
    assert runner.waiting(runner.queue) == 0
    assert runner.stats()["failed"] == 2 and runner.stats()["alive"]
    runner.upload(8, 2, marked_jpeg(640, 480))
    assert eventually(lambda: 8 in runner.product.images)
