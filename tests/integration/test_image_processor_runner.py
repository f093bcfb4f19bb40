"""The image-processor runner in-process: a real SQLite bus, a blob store that notifies on it, product on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mce.kit.blob.filesystem import FilesystemBlobStore
from mce.kit.blob.notifications import BLOB_NOTIFICATIONS_TOPIC, BusNotifier
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.events import Event
from mce.services.image_processor.app import create_app
from mce.services.image_processor.settings import ImageProcessorServiceSettings
from tests.conftest import free_port
from tests.fakes.product_images import FakeProductImages
from tests.images import half_transparent_png, marked_jpeg, png_declaring
from tests.inprocess import IN_PROCESS

TOKEN = "runner-token-for-tests-0123456789"
BUCKET = "mce-uploads"


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Platform:
    """The runner, the bus it reads, the store uploads go to (notifying on the bus), and the fake product."""

    def __init__(self, data_dir: Path, product: FakeProductImages) -> None:
        self.bus = SqliteEventBus(data_dir / "bus.db")
        self.uploads = FilesystemBlobStore(data_dir / "blobs", BUCKET, BusNotifier(self.bus))
        self.product = product
        settings = ImageProcessorServiceSettings(
            data_dir=data_dir, product_url=product.url, image_processor_token=TOKEN, http_timeout=1, **IN_PROCESS
        )
        self.client = TestClient(create_app(settings, bus=self.bus))

    def upload(self, product_id: int, upload_id: str, data: bytes, ext: str = "jpg") -> str:
        key = f"uploads/products/{product_id}/{upload_id}.{ext}"
        self.product.current_upload[product_id] = key
        self.uploads.put(key, data, f"image/{ext}")
        return key

    def metric(self, name: str) -> float:
        """A sample's value from /metrics (0 when absent)."""
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    def notifications(self) -> list[Event]:
        subscription = self.bus.subscribe(BLOB_NOTIFICATIONS_TOPIC, "test-reader")
        try:
            return [d.event for d in subscription.poll(100, timeout=0.2)]
        finally:
            subscription.close()


@pytest.fixture
def product() -> Iterator[FakeProductImages]:
    fake = FakeProductImages(TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def platform(tmp_path: Path, product: FakeProductImages) -> Iterator[Platform]:
    running = Platform(tmp_path, product)
    with running.client:
        yield running
    running.bus.close()


def upload_id(n: int) -> str:
    return f"{n:032x}"


def test_the_runner_is_alive_ready_and_exports_its_counts(platform: Platform) -> None:
    assert platform.client.get("/healthz").json()["status"] == "ok"
    ready = platform.client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert set(ready["checks"]) == {"blob_store", "bus", "consumer"}
    assert platform.client.get("/stats").json()["consumer"]["group"] == "image-processor"


def test_an_upload_notification_makes_thumbnails_and_tells_product(platform: Platform) -> None:
    key = platform.upload(7, upload_id(1), marked_jpeg(1920, 1080, orientation=6))
    assert eventually(lambda: 7 in platform.product.images)
    assert platform.product.images[7]["thumbnail_url"] == f"/images/thumbnails/products/7/{upload_id(1)}-128.webp"
    assert platform.uploads.head(f"thumbnails/products/7/{upload_id(1)}-512.webp") is not None
    assert platform.product.calls[0][1]["upload_key"] == key
    assert eventually(lambda: platform.metric('image_processor_processed_total{product="applied"}') == 1)


def test_no_thumbnail_ever_notifies_so_the_processor_never_runs_on_its_own_output(platform: Platform) -> None:
    platform.upload(7, upload_id(1), marked_jpeg(800, 600))
    platform.upload(8, upload_id(2), half_transparent_png(), ext="png")
    assert eventually(lambda: len(platform.product.calls) == 2)
    time.sleep(0.3)  # time for any notification a thumbnail might have caused to arrive and be handled
    assert [event.key for event in platform.notifications()] == [
        f"uploads/products/7/{upload_id(1)}.jpg",
        f"uploads/products/8/{upload_id(2)}.png",
    ]
    assert len(platform.product.calls) == 2
    assert platform.metric("image_processor_ignored_total") == 0


def test_bad_uploads_are_counted_by_reason_and_harm_nothing(platform: Platform) -> None:
    platform.upload(7, upload_id(1), b"this is not a picture")
    platform.upload(8, upload_id(2), png_declaring(100_000, 100_000), ext="png")
    platform.upload(9, upload_id(3), marked_jpeg(640, 480))
    assert eventually(lambda: 9 in platform.product.images)
    assert platform.metric('image_processor_rejected_total{reason="not_an_image"}') == 1
    assert platform.metric('image_processor_rejected_total{reason="decompression_bomb"}') == 1
    assert set(platform.product.images) == {9}
    assert platform.client.get("/stats").json()["consumer"]["dead_lettered"] == 0


def test_every_notification_delivered_twice_has_the_same_result(platform: Platform) -> None:
    platform.upload(7, upload_id(1), marked_jpeg(800, 600))
    assert eventually(lambda: len(platform.product.calls) == 1)
    (notification,) = platform.notifications()
    thumbnail = platform.uploads.get(f"thumbnails/products/7/{upload_id(1)}-512.webp")
    platform.bus.publish(BLOB_NOTIFICATIONS_TOPIC, [notification])
    assert eventually(lambda: len(platform.product.calls) == 2)
    assert platform.product.calls[0] == platform.product.calls[1]
    assert platform.uploads.get(f"thumbnails/products/7/{upload_id(1)}-512.webp") == thumbnail
    assert eventually(lambda: platform.metric('image_processor_processed_total{product="applied"}') == 2)


def test_product_down_is_retried_until_it_answers(tmp_path: Path) -> None:
    product = FakeProductImages(TOKEN, port=free_port())
    running = Platform(tmp_path, product)
    with running.client:
        running.upload(7, upload_id(1), marked_jpeg(800, 600))
        assert eventually(lambda: running.metric("image_processor_failed_total") >= 2)
        assert running.client.get("/stats").json()["consumer"]["last_error"].startswith("Unavailable")
        product.start()
        try:
            assert eventually(lambda: 7 in product.images)
            assert running.client.get("/stats").json()["consumer"]["dead_lettered"] == 0
        finally:
            product.stop()
    running.bus.close()


def test_a_superseded_upload_is_not_retried(platform: Platform) -> None:
    platform.upload(7, upload_id(1), marked_jpeg(800, 600))
    assert eventually(lambda: len(platform.product.calls) == 1)
    platform.product.current_upload[7] = f"uploads/products/7/{upload_id(2)}.jpg"
    (notification,) = platform.notifications()
    platform.bus.publish(BLOB_NOTIFICATIONS_TOPIC, [notification])
    assert eventually(lambda: platform.metric('image_processor_processed_total{product="superseded"}') == 1)
    time.sleep(0.3)
    assert len(platform.product.calls) == 2
    assert platform.metric("image_processor_failed_total") == 0


def test_other_event_types_on_the_topic_are_skipped(platform: Platform) -> None:
    platform.bus.publish(BLOB_NOTIFICATIONS_TOPIC, [Event(type="SomethingElse", key="k", data={"Records": []})])
    platform.upload(7, upload_id(1), marked_jpeg(640, 480))
    assert eventually(lambda: 7 in platform.product.images)
    assert platform.metric("image_processor_ignored_total") == 0
    assert platform.metric("image_processor_failed_total") == 0
