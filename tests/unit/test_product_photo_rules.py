"""Product photo rules: sniffing, header-only checks, upload keys and what the processor may report."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mce.kit.errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from mce.services.product import images, pictures
from mce.services.product.vocabulary import CATALOG

UPLOAD_ID = "0123456789abcdef0123456789abcdef"


def encoded(kind: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "green").save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(("kind", "extension"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")])
def test_the_three_formats_are_known_by_their_first_bytes(kind, extension) -> None:
    checked = images.check_image(encoded(kind), max_bytes=1 << 20, max_pixels=10_000)
    assert (checked.format, checked.extension, checked.width, checked.height) == (kind, extension, 40, 30)


@pytest.mark.parametrize("kind", ["GIF", "BMP", "TIFF", "ICO"])
def test_other_formats_pillow_reads_are_still_refused(kind) -> None:
    with pytest.raises(UnsupportedMediaType):
        images.check_image(encoded(kind), max_bytes=1 << 20, max_pixels=10_000)


def test_a_jpeg_start_glued_to_png_bytes_is_not_read_as_a_png() -> None:
    with pytest.raises(Invalid):
        images.check_image(b"\xff\xd8\xff" + encoded("PNG"), max_bytes=1 << 20, max_pixels=10_000)


def test_size_and_pixels_have_limits() -> None:
    with pytest.raises(PayloadTooLarge):
        images.check_image(encoded("PNG"), max_bytes=10, max_pixels=10_000)
    with pytest.raises(Invalid, match="at most 1199 pixels"):
        images.check_image(encoded("PNG"), max_bytes=1 << 20, max_pixels=1199)


def test_a_key_names_its_product_and_a_fresh_upload_id() -> None:
    first, second = images.new_upload_key(7, "png"), images.new_upload_key(7, "png")
    assert first != second
    assert images.upload_id_of(first, 7) == first.split("/")[-1][:-4]
    with pytest.raises(Invalid):
        images.upload_id_of(first, 8)


@pytest.mark.parametrize(
    "key",
    [
        f"uploads/products/7/{UPLOAD_ID}.gif",
        f"uploads/products/07/{UPLOAD_ID}.jpg",
        f"uploads/products/7/{UPLOAD_ID[:-1]}.jpg",
        f"uploads/products/7/{UPLOAD_ID.upper()}.jpg",
        f"thumbnails/products/7/{UPLOAD_ID}.jpg",
        f"uploads/products/7/{UPLOAD_ID}.jpg\n",
    ],
)
def test_keys_that_are_not_this_shape_are_refused(key) -> None:
    with pytest.raises(Invalid):
        images.upload_id_of(key, 7)


def test_a_report_must_name_the_uploads_own_thumbnails() -> None:
    key = f"uploads/products/7/{UPLOAD_ID}.jpg"
    image_url, thumbnail_url = images.image_urls(7, UPLOAD_ID)
    assert image_url == f"/images/thumbnails/products/7/{UPLOAD_ID}-512.webp"
    images.check_processed(7, key, image_url, thumbnail_url)
    with pytest.raises(Invalid):
        images.check_processed(7, key, thumbnail_url, image_url)


def test_the_status_says_processing_until_the_current_uploads_thumbnail_is_in_place() -> None:
    key = f"uploads/products/7/{UPLOAD_ID}.jpg"
    image_url, thumbnail_url = images.image_urls(7, UPLOAD_ID)
    assert images.image_status(7, None, None, None) == "none"
    assert images.image_status(7, key, None, None) == "processing"
    assert images.image_status(7, key, "/images/old-512.webp", "/images/old-128.webp") == "processing"
    assert images.image_status(7, key, image_url, thumbnail_url) == "ready"
    assert images.image_status(7, None, "https://cdn.example/a.jpg", None) == "ready"


def test_every_category_gets_a_picture_the_upload_rules_take() -> None:
    for vocabulary in CATALOG:
        picture = pictures.draw_picture(vocabulary.name, f"Sample {vocabulary.name}")
        checked = images.check_image(picture, max_bytes=64 * 1024, max_pixels=1_000_000)
        assert (checked.format, checked.width, checked.height) == ("JPEG", 512, 384)


def test_pictures_are_deterministic_and_differ_by_initial_and_category() -> None:
    lamp = pictures.draw_picture("Home & Kitchen", "Desk Lamp")
    assert pictures.draw_picture("Home & Kitchen", "desk fan") == lamp
    assert pictures.draw_picture("Home & Kitchen", "Lamp") != lamp
    assert pictures.draw_picture("Office", "Desk Lamp") != lamp
    assert pictures.draw_picture("A category added later", "") != lamp
