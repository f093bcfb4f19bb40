"""Thumbnails of uploads: upright, the right sizes, transparency kept, and no bytes that are not a safe image."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mce.functions.image_processor.thumbnails import Rejected, make_thumbnails
from tests.images import (
    GREEN,
    RED,
    encode,
    half_transparent_png,
    marked_jpeg,
    near,
    png_declaring,
    two_frame_gif,
)

WIDTHS = (128, 512)
MAX_PIXELS = 50_000_000


def thumbnails(data: bytes, max_pixels: int = MAX_PIXELS) -> dict[int, Image.Image]:
    """Each thumbnail decoded again, by nominal width, after checking it is WebP of the size it says."""
    made = {}
    for thumbnail in make_thumbnails(data, WIDTHS, max_pixels=max_pixels):
        image = Image.open(io.BytesIO(thumbnail.data))
        assert image.format == "WEBP"
        assert image.size == (thumbnail.width, thumbnail.height)
        image.load()
        made[thumbnail.nominal_width] = image
    return made


def rejection(data: bytes, max_pixels: int = MAX_PIXELS) -> Rejected:
    with pytest.raises(Rejected) as caught:
        make_thumbnails(data, WIDTHS, max_pixels=max_pixels)
    return caught.value


def test_thumbnails_are_128_and_512_wide_with_the_aspect_ratio_kept() -> None:
    made = thumbnails(marked_jpeg(1920, 1080))
    assert made[512].size == (512, 288)
    assert made[128].size == (128, 72)


def test_a_jpeg_turned_by_exif_orientation_6_is_thumbnailed_upright() -> None:
    # Stored 2000x1000 with the red block top-left; orientation 6 shows it turned a quarter clockwise: 1000x2000,
    # the block at the top right.
    made = thumbnails(marked_jpeg(2000, 1000, orientation=6))
    assert made[512].size == (512, 1024)
    assert made[128].size == (128, 256)
    for image in made.values():
        rgb = image.convert("RGB")
        width, height = rgb.size
        assert near(rgb.getpixel((width - 5, 5)), RED)
        assert near(rgb.getpixel((5, 5)), GREEN)
        assert near(rgb.getpixel((width - 5, height - 5)), GREEN)


@pytest.mark.parametrize(
    ("orientation", "corner"),
    [(1, "top-left"), (3, "bottom-right"), (6, "top-right"), (8, "bottom-left"), (2, "top-right")],
)
def test_every_exif_orientation_puts_the_marked_corner_where_the_camera_meant(orientation: int, corner: str) -> None:
    image = thumbnails(marked_jpeg(800, 600, orientation=orientation))[128].convert("RGB")
    width, height = image.size
    points = {
        "top-left": (3, 3),
        "top-right": (width - 4, 3),
        "bottom-left": (3, height - 4),
        "bottom-right": (width - 4, height - 4),
    }
    assert [name for name, point in points.items() if near(image.getpixel(point), RED)] == [corner]


def test_a_png_with_transparency_keeps_its_alpha() -> None:
    made = thumbnails(half_transparent_png(800, 400))
    for image in made.values():
        assert image.mode == "RGBA"
        width, height = image.size
        assert image.getpixel((2, height // 2))[3] == 0
        assert image.getpixel((width - 3, height // 2))[3] == 255
        assert near(image.getpixel((width - 3, height // 2))[:3], RED)


def test_an_image_narrower_than_a_thumbnail_is_never_upscaled() -> None:
    made = thumbnails(encode(Image.new("RGB", (300, 150), GREEN), "PNG"))
    assert made[512].size == (300, 150)
    assert made[128].size == (128, 64)


def test_an_animated_gif_gives_its_first_frame() -> None:
    image = thumbnails(two_frame_gif())[128].convert("RGB")
    assert near(image.getpixel((10, 10)), RED)


def test_a_webp_upload_is_thumbnailed_too() -> None:
    made = thumbnails(encode(Image.new("RGB", (1024, 768), RED), "WEBP"))
    assert made[512].size == (512, 384)


def test_the_same_upload_always_gives_the_same_bytes() -> None:
    data = marked_jpeg(1600, 900, orientation=6)
    first = [t.data for t in make_thumbnails(data, WIDTHS, max_pixels=MAX_PIXELS)]
    second = [t.data for t in make_thumbnails(data, WIDTHS, max_pixels=MAX_PIXELS)]
    assert first == second


def test_thumbnails_carry_no_exif_so_no_camera_or_place_leaks() -> None:
    data = marked_jpeg(1200, 800, orientation=6, exif={0x010F: "Acme Camera", 0x0131: "secret-editor"})
    assert Image.open(io.BytesIO(data)).getexif()[0x010F] == "Acme Camera"
    for image in thumbnails(data).values():
        assert "exif" not in image.info
        assert dict(image.getexif()) == {}


def test_bytes_that_are_no_image_are_rejected() -> None:
    assert rejection(b"%PDF-1.7 not a picture at all").reason == "not_an_image"
    assert rejection(b"").reason == "not_an_image"


def test_an_image_in_a_format_we_do_not_take_is_rejected() -> None:
    assert rejection(encode(Image.new("RGB", (64, 64), RED), "BMP")).reason == "not_an_image"
    assert rejection(encode(Image.new("RGB", (64, 64), RED), "TIFF")).reason == "not_an_image"


def test_a_small_png_declaring_ten_billion_pixels_is_a_decompression_bomb() -> None:
    bomb = png_declaring(100_000, 100_000)
    assert len(bomb) < 1000
    assert rejection(bomb).reason == "decompression_bomb"


def test_pillows_own_bomb_warning_is_an_error_not_a_log_line() -> None:
    # 100 M pixels: over Pillow's warning threshold (89 M), under its error threshold (179 M).
    assert rejection(png_declaring(10_000, 10_000)).reason == "decompression_bomb"


def test_an_image_over_our_pixel_limit_is_refused_before_it_is_decoded() -> None:
    reason = rejection(png_declaring(8_000, 8_000))  # 64 M pixels: under Pillow's thresholds, over ours
    assert reason.reason == "decompression_bomb"
    assert "64000000" in reason.message or "8000x8000" in reason.message


def test_a_truncated_jpeg_is_rejected_as_corrupt() -> None:
    data = marked_jpeg(1200, 800)
    assert rejection(data[: len(data) // 2]).reason == "corrupt"


def test_a_png_with_a_broken_chunk_is_rejected_as_corrupt() -> None:
    data = bytearray(encode(Image.new("RGB", (200, 100), RED), "PNG"))
    data[50:60] = b"\xff" * 10  # inside the compressed pixels: the header reads fine
    assert rejection(bytes(data)).reason == "corrupt"


def test_a_cmyk_jpeg_becomes_an_rgb_thumbnail() -> None:
    data = encode(Image.new("CMYK", (640, 480), (0, 255, 255, 0)), "JPEG")
    image = thumbnails(data)[512]
    assert image.mode == "RGB"
    assert image.size == (512, 384)


def test_a_16_bit_grey_png_keeps_its_tones() -> None:
    data = encode(Image.new("I;16", (300, 200), 40_000), "PNG")
    image = thumbnails(data)[128].convert("RGB")
    assert near(image.getpixel((10, 10)), (156, 156, 156), tolerance=6)
