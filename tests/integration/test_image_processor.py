"""The image processor Lambda's handler over a real blob store directory and a product service on loopback HTTP."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from mce.functions.image_processor import handler as lambda_module
from mce.functions.image_processor.handler import build_processor, handler
from mce.functions.image_processor.processor import ImageProcessor
from mce.functions.image_processor.product import ProductRefused, ProductUnavailable
from mce.functions.image_processor.settings import ImageProcessorSettings
from mce.kit.blob.filesystem import FilesystemBlobStore
from mce.kit.blob.notifications import s3_created_event
from mce.kit.blob.port import BlobInfo, BlobStore
from mce.kit.settings import SettingsError
from tests.conftest import free_port
from tests.fakes.product_images import FakeProductImages
from tests.images import RED, encode, half_transparent_png, marked_jpeg, near, png_declaring

TOKEN = "processor-token-for-tests-0123456789"
BUCKET = "mce-uploads"
UPLOAD_ID = "5f0c1e2d3b4a59687766554433221100"


@pytest.fixture
def product() -> Iterator[FakeProductImages]:
    fake = FakeProductImages(TOKEN).start()
    yield fake
    fake.stop()


def settings_for(data_dir: Path, product_url: str, **overrides: object) -> ImageProcessorSettings:
    return ImageProcessorSettings(
        data_dir=data_dir, product_url=product_url, image_processor_token=TOKEN, http_timeout=2, **overrides
    )


@pytest.fixture
def processor(tmp_path: Path, product: FakeProductImages) -> ImageProcessor:
    return build_processor(settings_for(tmp_path, product.url))


def upload(store: BlobStore, product: FakeProductImages, product_id: int, data: bytes, ext: str = "jpg") -> dict:
    """Store an upload as the product's current one; the S3 event its creation sends."""
    key = f"uploads/products/{product_id}/{UPLOAD_ID}.{ext}"
    product.current_upload[product_id] = key
    return s3_created_event(store.bucket, store.put(key, data, f"image/{ext}"))


def event_for(key: str, bucket: str = BUCKET) -> dict:
    """An S3 event for a key, whether or not an object is there."""
    return s3_created_event(bucket, BlobInfo(key, 1, "image/jpeg", "0" * 32))


def thumbnail(store: BlobStore, product_id: int, width: int) -> Image.Image:
    data, info = store.get(f"thumbnails/products/{product_id}/{UPLOAD_ID}-{width}.webp")
    assert info.content_type == "image/webp"
    return Image.open(io.BytesIO(data))


def stored_keys(root: Path) -> set[str]:
    bucket = root / "blobs" / BUCKET
    return {str(path.relative_to(bucket)) for path in bucket.rglob("*") if path.is_file()}


def expected_call(product_id: int, ext: str = "jpg") -> tuple[str, dict]:
    base = f"/images/thumbnails/products/{product_id}/{UPLOAD_ID}"
    return (
        f"/products/{product_id}/image",
        {
            "upload_key": f"uploads/products/{product_id}/{UPLOAD_ID}.{ext}",
            "image_url": f"{base}-512.webp",
            "thumbnail_url": f"{base}-128.webp",
        },
    )


def test_an_upload_gets_both_thumbnails_and_the_product_is_told_their_urls(
    processor: ImageProcessor, product: FakeProductImages
) -> None:
    event = upload(processor.store, product, 7, marked_jpeg(1920, 1080))
    (outcome,) = processor.handle(event)
    assert (outcome.outcome, outcome.reason) == ("processed", "applied")
    assert thumbnail(processor.store, 7, 512).size == (512, 288)
    assert thumbnail(processor.store, 7, 128).size == (128, 72)
    assert product.calls == [expected_call(7)]
    assert product.images[7]["image_url"].endswith("-512.webp")


def test_a_jpeg_with_exif_rotation_is_stored_upright(processor: ImageProcessor, product: FakeProductImages) -> None:
    processor.handle(upload(processor.store, product, 7, marked_jpeg(2000, 1000, orientation=6)))
    image = thumbnail(processor.store, 7, 512).convert("RGB")
    assert image.size == (512, 1024)
    assert near(image.getpixel((image.width - 5, 5)), RED)


def test_a_png_with_transparency_keeps_it(processor: ImageProcessor, product: FakeProductImages) -> None:
    processor.handle(upload(processor.store, product, 8, half_transparent_png(), ext="png"))
    image = thumbnail(processor.store, 8, 128)
    assert image.mode == "RGBA"
    assert image.getpixel((1, 10))[3] == 0
    assert product.calls == [expected_call(8, "png")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a? no, just text pretending", "not_an_image"),
        (png_declaring(100_000, 100_000), "decompression_bomb"),
        (png_declaring(10_000, 10_000), "decompression_bomb"),
    ],
    ids=["non-image", "bomb", "bomb-under-pillows-own-limit"],
)
def test_a_bad_upload_is_rejected_with_a_logged_reason_and_nothing_written(
    processor: ImageProcessor,
    product: FakeProductImages,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    data: bytes,
    reason: str,
) -> None:
    event = upload(processor.store, product, 9, data, ext="png")
    with caplog.at_level(logging.WARNING):
        (outcome,) = processor.handle(event)
    assert (outcome.outcome, outcome.reason) == ("rejected", reason)
    assert stored_keys(tmp_path) == {f"uploads/products/9/{UPLOAD_ID}.png"}
    assert product.calls == []
    assert any(reason in record.getMessage() and "product 9" in record.getMessage() for record in caplog.records)


def test_an_upload_over_the_byte_limit_is_rejected_unread(
    tmp_path: Path, product: FakeProductImages, caplog: pytest.LogCaptureFixture
) -> None:
    processor = build_processor(settings_for(tmp_path, product.url, image_max_bytes=4096))
    event = upload(processor.store, product, 9, os.urandom(5000))
    with caplog.at_level(logging.WARNING):
        assert processor.handle(event)[0].reason == "too_large"
    assert "too_large" in caplog.text


@pytest.mark.parametrize(
    "key",
    [
        "catalog/banner.jpg",
        f"thumbnails/products/7/{UPLOAD_ID}-512.webp",
        f"thumbnails/products/7/{UPLOAD_ID}-128.webp",
    ],
)
def test_keys_outside_uploads_and_the_processors_own_output_are_ignored(
    processor: ImageProcessor, product: FakeProductImages, tmp_path: Path, key: str
) -> None:
    processor.store.put(key, encode(Image.new("RGB", (600, 400), RED), "WEBP"), "image/webp")
    (outcome,) = processor.handle(event_for(key))
    assert (outcome.outcome, outcome.reason) == ("ignored", "not an upload key")
    assert stored_keys(tmp_path) == {key}
    assert product.calls == []


def test_a_record_from_another_bucket_is_ignored(processor: ImageProcessor, product: FakeProductImages) -> None:
    event = upload(processor.store, product, 7, marked_jpeg(640, 480))
    event["Records"][0]["s3"]["bucket"]["name"] = "someone-elses"
    assert processor.handle(event)[0].outcome == "ignored"
    assert product.calls == []


def test_url_encoded_keys_are_decoded_before_use(processor: ImageProcessor, product: FakeProductImages) -> None:
    event = upload(processor.store, product, 7, marked_jpeg(640, 480))
    record = event["Records"][0]["s3"]["object"]
    record["key"] = record["key"].replace("/", "%2F")
    (outcome,) = processor.handle(event)
    assert (outcome.key, outcome.outcome) == (f"uploads/products/7/{UPLOAD_ID}.jpg", "processed")
    spaced = event_for("uploads/products/7/my photo+1.jpg")
    assert spaced["Records"][0]["s3"]["object"]["key"] == "uploads/products/7/my+photo%2B1.jpg"
    (outcome,) = processor.handle(spaced)
    assert (outcome.key, outcome.outcome) == ("uploads/products/7/my photo+1.jpg", "ignored")


def test_an_upload_deleted_before_it_is_processed_is_a_quiet_no_op(
    processor: ImageProcessor, product: FakeProductImages
) -> None:
    (outcome,) = processor.handle(event_for(f"uploads/products/7/{UPLOAD_ID}.jpg"))
    assert outcome.outcome == "missing"
    assert product.calls == []


def test_every_event_delivered_twice_gives_the_same_objects_and_tells_product_the_same(
    processor: ImageProcessor, product: FakeProductImages, tmp_path: Path
) -> None:
    event = upload(processor.store, product, 7, marked_jpeg(1920, 1080, orientation=6))
    first = processor.handle(event)
    keys = stored_keys(tmp_path)
    files = {key: (tmp_path / "blobs" / BUCKET / key).stat() for key in keys}
    objects = {key: processor.store.get(key) for key in keys}
    second = processor.handle(event)
    assert [(o.key, o.outcome, o.reason) for o in first] == [(o.key, o.outcome, o.reason) for o in second]
    assert stored_keys(tmp_path) == keys
    assert {key: processor.store.get(key) for key in keys} == objects
    # The same bytes are not written again: the files are the very ones the first delivery made.
    assert {key: (tmp_path / "blobs" / BUCKET / key).stat().st_ino for key in keys} == {
        key: stat.st_ino for key, stat in files.items()
    }
    assert product.calls == [expected_call(7), expected_call(7)]
    assert product.images == {7: {k: v for k, v in expected_call(7)[1].items() if k != "upload_key"}}


def test_product_down_raises_for_a_retry_and_the_retry_succeeds(tmp_path: Path) -> None:
    fake = FakeProductImages(TOKEN, port=free_port())
    processor = build_processor(settings_for(tmp_path, fake.url))
    event = upload(processor.store, fake, 7, marked_jpeg(1280, 720))
    with pytest.raises(ProductUnavailable):
        processor.handle(event)
    fake.start()
    try:
        assert [o.reason for o in processor.handle(event)] == ["applied"]
        assert fake.calls == [expected_call(7)]
    finally:
        fake.stop()


def test_a_product_service_answering_503_raises_for_a_retry(
    processor: ImageProcessor, product: FakeProductImages
) -> None:
    event = upload(processor.store, product, 7, marked_jpeg(640, 480))
    product.overloaded = True
    with pytest.raises(ProductUnavailable, match="503"):
        processor.handle(event)
    product.overloaded = False
    assert processor.handle(event)[0].reason == "applied"


def test_a_newer_upload_wins_409_is_logged_and_not_retried(
    processor: ImageProcessor, product: FakeProductImages, caplog: pytest.LogCaptureFixture
) -> None:
    event = upload(processor.store, product, 7, marked_jpeg(640, 480))
    product.current_upload[7] = "uploads/products/7/ffffffffffffffffffffffffffffffff.jpg"
    with caplog.at_level(logging.INFO):
        (outcome,) = processor.handle(event)
    assert (outcome.outcome, outcome.reason) == ("processed", "superseded")
    assert len(product.calls) == 1
    assert 7 not in product.images
    assert "no longer product 7's current one" in caplog.text


def test_a_deleted_product_404_is_logged_and_not_retried(processor: ImageProcessor, product: FakeProductImages) -> None:
    event = upload(processor.store, product, 7, marked_jpeg(640, 480))
    del product.current_upload[7]
    assert processor.handle(event)[0].reason == "product_gone"
    assert len(product.calls) == 1


def test_a_wrong_token_is_refused_loudly(tmp_path: Path, product: FakeProductImages) -> None:
    processor = build_processor(
        ImageProcessorSettings(data_dir=tmp_path, product_url=product.url, image_processor_token="x" * 32)
    )
    event = upload(processor.store, product, 7, marked_jpeg(640, 480))
    with pytest.raises(ProductRefused, match="401"):
        processor.handle(event)


def test_a_local_token_is_made_once_under_the_data_directory(tmp_path: Path, product: FakeProductImages) -> None:
    token_path = tmp_path / "secrets" / "image-processor-token"
    product.token = "made-by-product-first-0123456789"
    token_path.parent.mkdir(parents=True)
    token_path.write_text(product.token + "\n")
    processor = build_processor(ImageProcessorSettings(data_dir=tmp_path, product_url=product.url))
    assert processor.handle(upload(processor.store, product, 7, marked_jpeg(640, 480)))[0].reason == "applied"


def test_production_needs_the_token_given(tmp_path: Path) -> None:
    settings = ImageProcessorSettings(data_dir=tmp_path, env="production")
    with pytest.raises(SettingsError, match="MCE_IMAGE_PROCESSOR_TOKEN"):
        build_processor(settings)


def test_the_lambda_handler_builds_from_the_environment_on_first_call_and_returns_outcomes(
    tmp_path: Path, product: FakeProductImages, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_module, "_built", None)
    for name, value in {
        "MCE_DATA_DIR": str(tmp_path),
        "MCE_PRODUCT_URL": product.url,
        "MCE_IMAGE_PROCESSOR_TOKEN": TOKEN,
    }.items():
        monkeypatch.setenv(name, value)
    store = FilesystemBlobStore(tmp_path / "blobs", BUCKET)
    event = upload(store, product, 7, marked_jpeg(1920, 1080))
    event["Records"].append(event_for("catalog/banner.jpg")["Records"][0])
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 30_000)
    result = handler(event, context)
    assert [(r["key"], r["outcome"], r["reason"]) for r in result["records"]] == [
        (f"uploads/products/7/{UPLOAD_ID}.jpg", "processed", "applied"),
        ("catalog/banner.jpg", "ignored", "not an upload key"),
    ]
    assert lambda_module._built is not None
    assert handler(event, None)["records"][0]["reason"] == "applied"
    assert product.calls == [expected_call(7), expected_call(7)]
