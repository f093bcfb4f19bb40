"""Product photos through the real processes: gateway upload, blob store, its notification, the image processor, the
product service, and the storefront's pages serving the thumbnails."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from PIL import Image

from mce.kit.blob.filesystem import FilesystemBlobStore
from mce.kit.blob.notifications import BLOB_NOTIFICATIONS_TOPIC, BusNotifier
from mce.kit.bus.sqlite import SqliteEventBus
from tests.conftest import Platform
from tests.images import half_transparent_png, marked_jpeg, near, png_declaring

pytestmark = pytest.mark.e2e

RED = (220, 30, 30)
NEW = {"name": "Photo Frame", "description": "Oak", "price": "19.90", "stock": 5, "category": "Home"}


def eventually(check: Callable[[], object], timeout: float = 60.0) -> object:
    """check()'s first truthy answer, polled; fails after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.25)
    pytest.fail(f"not within {timeout} s: {check}")


@pytest.fixture
def admin(platform: Platform) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {platform.admin_token}"}
    with httpx.Client(base_url=platform.url(), headers=headers, timeout=10) as client:
        yield client


def new_product(admin: httpx.Client) -> dict:
    categories = admin.get("/api/categories").json()["items"]
    created = admin.post("/api/products", json={**NEW, "category": categories[0]["name"]})
    assert created.status_code == 201, created.text
    return created.json()


def upload(admin: httpx.Client, product_id: int, data: bytes, name: str, content_type: str) -> httpx.Response:
    return admin.post(f"/api/products/{product_id}/image", files={"file": (name, data, content_type)})


def thumbnails_of(admin: httpx.Client, product_id: int) -> dict | None:
    """The product once the processor has told it its thumbnails, else None."""
    product = admin.get(f"/api/products/{product_id}").json()
    return product if product.get("thumbnail_url") else None


def fetched_image(client: httpx.Client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp"
    assert "immutable" in response.headers["cache-control"]
    return Image.open(io.BytesIO(response.content))


def test_the_seeded_catalog_shows_real_thumbnails_with_srcset(platform: Platform, admin: httpx.Client) -> None:
    def pictured() -> list[dict]:
        items = admin.get("/api/products", params={"limit": 20}).json()["items"]
        return [item for item in items if item.get("thumbnail_url")]

    products = eventually(pictured, timeout=120)
    thumbnail = fetched_image(admin, products[0]["thumbnail_url"])
    assert thumbnail.width == 128
    page = httpx.get(f"{platform.url()}/products", timeout=10).text
    assert re.search(r'srcset="[^"]+-128\.webp 128w, [^"]+-512\.webp 512w"', page)
    assert 'loading="lazy"' in page


def test_an_exif_rotated_jpeg_and_a_transparent_png_become_upright_thumbnails_on_the_page(
    platform: Platform, admin: httpx.Client
) -> None:
    rotated = new_product(admin)
    # Stored 640x480 with the red corner top-left; orientation 6 means "turn 90 degrees clockwise to show".
    answer = upload(admin, rotated["id"], marked_jpeg(640, 480, orientation=6), "photo.jpg", "image/jpeg")
    assert answer.status_code == 202, answer.text
    clear = new_product(admin)
    answer = upload(admin, clear["id"], half_transparent_png(800, 400), "logo.png", "image/png")
    assert answer.status_code == 202, answer.text

    shown = eventually(lambda: thumbnails_of(admin, rotated["id"]))
    large = fetched_image(admin, shown["image_url"]).convert("RGB")
    assert (large.width, large.height) == (480, 640)  # upright: portrait, never upscaled past the source's width
    assert near(large.getpixel((large.width - 5, 5)), RED)  # the top-left corner turned to the top-right
    small = fetched_image(admin, shown["thumbnail_url"])
    assert small.width == 128 and small.height in (170, 171)
    page = httpx.get(f"{platform.url()}/products/{rotated['id']}", timeout=10).text
    assert shown["thumbnail_url"] in page and shown["image_url"] in page

    shown = eventually(lambda: thumbnails_of(admin, clear["id"]))
    logo = fetched_image(admin, shown["image_url"])
    assert logo.mode == "RGBA" and (logo.width, logo.height) == (512, 256)
    assert logo.getpixel((10, 128))[3] == 0 and logo.getpixel((500, 128))[3] == 255


def test_a_non_image_and_a_decompression_bomb_are_refused_and_the_product_keeps_no_picture(
    admin: httpx.Client,
) -> None:
    product = new_product(admin)
    text = upload(admin, product["id"], b"#!/bin/sh\nrm -rf /\n", "photo.jpg", "image/jpeg")
    assert text.status_code == 415 and text.json()["error"]["code"] == "unsupported_media_type"
    bomb = upload(admin, product["id"], png_declaring(60_000, 60_000), "bomb.png", "image/png")
    assert bomb.status_code == 422, bomb.text
    again = admin.get(f"/api/products/{product['id']}").json()
    assert again["thumbnail_url"] is None and again["image_url"] is None


def test_files_put_straight_into_the_bucket_are_checked_too_and_thumbnails_never_notify(platform: Platform) -> None:
    """As if written to S3 directly, past the upload endpoint: the processor refuses, and its output stays quiet."""
    bus = SqliteEventBus(platform.data_dir / "bus.db")
    try:
        store = FilesystemBlobStore(platform.data_dir / "blobs", "mce-uploads", BusNotifier(bus))
        store.put(f"uploads/products/1/{'a' * 32}.png", png_declaring(60_000, 60_000), "image/png")
        store.put(f"uploads/products/1/{'b' * 32}.jpg", b"not a picture at all", "image/jpeg")

        def rejected() -> bool:
            text = httpx.get(platform.metrics_url("image-processor"), timeout=5).text
            found = re.findall(r'^image_processor_rejected_total\{[^}]*reason="(\w+)"[^}]*\} (\S+)$', text, re.M)
            reasons = {reason: float(value) for reason, value in found}
            return reasons.get("decompression_bomb", 0) >= 1 and reasons.get("not_an_image", 0) >= 1

        eventually(rejected)
        for nothing in (f"thumbnails/products/1/{'a' * 32}-128.webp", f"thumbnails/products/1/{'b' * 32}-512.webp"):
            assert store.head(nothing) is None

        # Every notification ever sent names an upload: what the processor writes under thumbnails/ sent none.
        notifications = bus.subscribe(BLOB_NOTIFICATIONS_TOPIC, "test-audit").poll(100_000, timeout=1)
        keys = [delivery.event.key for delivery in notifications]
        assert keys and all(key.startswith("uploads/") for key in keys)
    finally:
        bus.close()
