"""Product photos through the gateway: staff upload to the real product service, thumbnails served, pictures shown."""

from __future__ import annotations

import io
import re
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from frontend_fakes import ADMIN_TOKEN, FakeCatalog, FakeSearch, cart_service, frontend_client
from PIL import Image

from mce.kit.blob.factory import BlobSettings, build_blob_store
from mce.kit.bus.sqlite import SqliteEventBus
from mce.services.product.app import create_app as create_product_app
from mce.services.product.settings import ProductSettings
from tests.inprocess import IN_PROCESS, ClientTransport

PROCESSOR_TOKEN = "test-processor-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROCESSOR = {"Authorization": f"Bearer {PROCESSOR_TOKEN}"}
LIMIT = 32 * 1024
SHOPPER = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}


def jpeg(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def bomb() -> bytes:
    """A PNG header claiming 100,000 x 100,000 pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 512)) + chunk(b"IEND", b"")


def csrf_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client: TestClient) -> None:
    csrf = csrf_in(client.get("/admin/login").text)
    response = client.post("/admin/login", data={"csrf_token": csrf, "token": ADMIN_TOKEN}, follow_redirects=False)
    assert response.status_code == 303


def report(product_id: int, upload_key: str) -> dict[str, str]:
    upload_id = upload_key.rsplit("/", 1)[1].split(".")[0]
    base = f"/images/thumbnails/products/{product_id}/{upload_id}"
    return {"upload_key": upload_key, "image_url": f"{base}-512.webp", "thumbnail_url": f"{base}-128.webp"}


class Site:
    """The gateway in front of the real product service, both on one data directory as `mce up` runs them."""

    def __init__(self, gateway: TestClient, product: TestClient, data_dir: Path) -> None:
        self.gateway, self.product, self.data_dir = gateway, product, data_dir

    def blob(self, key: str) -> Path:
        return self.data_dir / "blobs" / "mce-uploads" / key

    def notifications(self, wanted: int) -> list:
        bus = SqliteEventBus(self.data_dir / "bus.db")
        subscription = bus.subscribe("blob-notifications", "test-reader")
        seen: list = []
        deadline = time.monotonic() + 5
        while len(seen) < wanted and time.monotonic() < deadline:
            seen += [delivery.event for delivery in subscription.poll(100, timeout=0.2)]
        bus.close()
        return seen


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = ProductSettings(
        data_dir=tmp_path,
        admin_token=ADMIN_TOKEN,
        image_processor_token=PROCESSOR_TOKEN,
        upload_max_bytes=LIMIT,
        **IN_PROCESS,
    )
    with TestClient(create_product_app(settings)) as product:
        product.post("/categories", json={"name": "Home"}, headers=ADMIN)
        product.post("/products", json={"name": "Desk Lamp", "price": "59.99", "category": "Home"}, headers=ADMIN)
        gateway = frontend_client(
            tmp_path, FakeCatalog(), product_transport=ClientTransport(product), upload_max_bytes=LIMIT
        )
        with gateway:
            yield Site(gateway, product, tmp_path)


def send(client: TestClient, data: bytes, *, headers: dict[str, str] | None = None, product_id: int = 1):
    files = {"file": ("photo.jpg", data, "image/jpeg")}
    return client.post(f"/api/products/{product_id}/image", files=files, headers=headers)


def test_an_admins_upload_through_the_gateway_lands_in_the_blob_store_and_notifies_the_processor(site) -> None:
    response = send(site.gateway, jpeg(), headers=ADMIN)
    assert response.status_code == 202
    key = response.json()["upload_key"]
    assert re.fullmatch(r"uploads/products/1/[0-9a-f]{32}\.jpg", key)
    assert site.blob(key).read_bytes().endswith(jpeg())
    (notification,) = site.notifications(1)
    assert notification.type == "BlobCreated" and notification.key == key
    status = site.gateway.get("/api/products/1/image", headers=ADMIN).json()
    assert status["status"] == "processing" and status["upload_key"] == key


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"just some text, not a picture", 415, "unsupported_media_type"),
        (b"GIF89a" + bytes(100), 415, "unsupported_media_type"),
        (bomb(), 422, "invalid"),
    ],
)
def test_what_the_catalog_refuses_comes_back_as_json(site, data, status, code) -> None:
    response = send(site.gateway, data, headers=ADMIN)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not site.blob("uploads").exists()


def test_a_photo_over_the_limit_is_413(site) -> None:
    response = send(site.gateway, b"\xff\xd8\xff" + bytes(LIMIT), headers=ADMIN)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(site) -> None:
    response = send(site.gateway, bytes(LIMIT + 200_000), headers=ADMIN)
    assert response.status_code == 413
    assert response.headers["connection"] == "close"


def test_an_upload_must_be_multipart_with_a_file(site) -> None:
    raw = site.gateway.post("/api/products/1/image", content=jpeg(), headers={**ADMIN, "Content-Type": "image/jpeg"})
    assert raw.status_code == 415
    no_file = site.gateway.post("/api/products/1/image", data={"file": "text"}, files={"x": ("a", b"b")}, headers=ADMIN)
    assert no_file.status_code == 422 and no_file.json()["error"]["details"][0]["field"] == "file"


def test_an_upload_for_a_missing_product_is_404(site) -> None:
    assert send(site.gateway, jpeg(), headers=ADMIN, product_id=999).status_code == 404


@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer wrong-token-0123456789"}, PROCESSOR])
def test_only_staff_may_upload(site, headers) -> None:
    response = send(site.gateway, jpeg(), headers=headers)
    assert response.status_code == 401
    assert not site.blob("uploads").exists()


def test_a_signed_in_shopper_cannot_upload(site) -> None:
    assert site.gateway.post("/api/accounts", json=SHOPPER).status_code == 201
    assert send(site.gateway, jpeg()).status_code == 401
    assert not site.blob("uploads").exists()


def test_the_admin_uploads_on_the_edit_page_and_sees_processing_then_the_picture(site) -> None:
    log_in(site.gateway)
    page = site.gateway.get("/admin/products/1/edit").text
    assert 'enctype="multipart/form-data"' in page and 'data-testid="no-photo"' in page
    files = {"file": ("lamp.jpg", jpeg(), "image/jpeg")}
    sent = site.gateway.post(
        "/admin/products/1/image", data={"csrf_token": csrf_in(page)}, files=files, follow_redirects=False
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/admin/products/1/edit"
    page = site.gateway.get("/admin/products/1/edit").text
    assert 'data-testid="photo-processing"' in page and "Photo uploaded" in page
    key = site.gateway.get("/api/products/1/image", headers=ADMIN).json()["upload_key"]
    assert site.blob(key).exists()
    assert site.product.put("/products/1/image", json=report(1, key), headers=PROCESSOR).status_code == 200
    page = site.gateway.get("/admin/products/1/edit").text
    assert 'data-testid="photo-processing"' not in page
    assert f'src="{report(1, key)["thumbnail_url"]}"' in page


def test_the_edit_page_says_why_a_photo_was_refused(site) -> None:
    log_in(site.gateway)
    csrf = csrf_in(site.gateway.get("/admin/products/1/edit").text)
    files = {"file": ("notes.txt", b"not a photo", "text/plain")}
    page = site.gateway.post("/admin/products/1/image", data={"csrf_token": csrf}, files=files)
    assert "Only JPEG, PNG and WebP images are taken." in page.text


def test_the_edit_pages_upload_needs_the_csrf_token_and_an_admin(site) -> None:
    files = {"file": ("lamp.jpg", jpeg(), "image/jpeg")}
    anonymous = site.gateway.post("/admin/products/1/image", files=files, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/admin/login")
    log_in(site.gateway)
    forged = site.gateway.post("/admin/products/1/image", data={"csrf_token": "forged"}, files=files)
    assert forged.status_code == 403
    assert not site.blob("uploads").exists()


# Serving thumbnails


WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L thumbnail bytes"


@pytest.fixture
def thumbnails(tmp_path: Path) -> Iterator[TestClient]:
    store = build_blob_store(BlobSettings(data_dir=tmp_path))
    store.put("thumbnails/products/1/abc-128.webp", WEBP, "image/webp")
    store.put("uploads/products/1/abc.jpg", jpeg(), "image/jpeg")
    with frontend_client(tmp_path, FakeCatalog()) as client:
        yield client


def test_a_thumbnail_is_served_with_its_type_a_years_caching_and_an_etag(thumbnails) -> None:
    response = thumbnails.get("/images/thumbnails/products/1/abc-128.webp")
    assert response.status_code == 200 and response.content == WEBP
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    assert "set-cookie" not in response.headers


def test_a_browser_with_the_current_copy_gets_304(thumbnails) -> None:
    etag = thumbnails.get("/images/thumbnails/products/1/abc-128.webp").headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = thumbnails.get("/images/thumbnails/products/1/abc-128.webp", headers={"If-None-Match": header})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag and "immutable" in again.headers["cache-control"]
    stale = thumbnails.get("/images/thumbnails/products/1/abc-128.webp", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_head_answers_the_headers_without_the_bytes(thumbnails) -> None:
    response = thumbnails.head("/images/thumbnails/products/1/abc-128.webp")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "image/webp" and response.headers["content-length"] == str(len(WEBP))


@pytest.mark.parametrize(
    "path",
    [
        "/images/uploads/products/1/abc.jpg",
        "/images/thumbnails/products/1/missing-128.webp",
        "/images/thumbnails/products/1/../../uploads/products/1/abc.jpg",
        "/images/thumbnails/%2e%2e/uploads/products/1/abc.jpg",
        "/images/thumbnails/products/1/%2e%2e%2f%2e%2e%2f..%2fuploads/products/1/abc.jpg",
        "/images/thumbnails//products/1/abc-128.webp",
        "/images/thumbnails/products/1/abc-128.webp%00.png",
        "/images/thumbnails/products/1/.hidden.webp",
        "/images/thumbnails",
        "/images/",
        "/images/%2fetc/passwd",
    ],
)
def test_nothing_but_a_thumbnail_is_served_whatever_the_spelling(thumbnails, path) -> None:
    response = raw_get(thumbnails, path)
    assert response[0] == 404, (path, response)


def raw_get(client: TestClient, raw_path: str) -> tuple[int, bytes]:
    """GET a path exactly as written, without the client's normalising of dot segments."""
    from urllib.parse import unquote

    messages: list[dict] = []

    async def call() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send_message(message: dict) -> None:
            messages.append(message)

        await client.app(scope, receive, send_message)

    client.portal.call(call)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


# Pictures on the shop's pages

THUMB, LARGE = "/images/thumbnails/products/1/abc-128.webp", "/images/thumbnails/products/1/abc-512.webp"


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.add("Desk Lamp", category="Home", image_url=LARGE, thumbnail_url=THUMB)
    catalog.add("Bare Mug", category="Home")
    return catalog


def picture_of(html: str, name: str) -> str:
    """The <img> whose alt is the product's name."""
    found = re.search(rf'<img [^>]*alt="{re.escape(name)}"[^>]*>', html, re.S)
    assert found, f"no picture of {name}"
    return found.group(0)


def assert_responsive(img: str) -> None:
    assert f'srcset="{THUMB} 128w, {LARGE} 512w"' in img
    assert 'sizes="' in img and re.search(r'width="\d+"', img) and re.search(r'height="\d+"', img)


@pytest.mark.parametrize("path", ["/", "/products", "/products?category=Home"])
def test_product_cards_show_both_sizes_lazily_and_keep_the_placeholder_for_products_without_one(
    tmp_path, catalog, path
) -> None:
    with frontend_client(tmp_path, catalog) as client:
        html = client.get(path).text
    img = picture_of(html, "Desk Lamp")
    assert_responsive(img)
    assert 'loading="lazy"' in img
    bare = re.search(r'data-product-id="2".*?</article>', html, re.S).group(0)
    assert 'data-testid="image-placeholder"' in bare and "<img" not in bare


def test_search_results_show_pictures_lazily(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog, search=FakeSearch(catalog)) as client:
        html = client.get("/search?q=lamp").text
    img = picture_of(html, "Desk Lamp")
    assert_responsive(img)
    assert 'loading="lazy"' in img


def test_the_product_page_shows_its_picture_at_once_in_both_sizes(tmp_path, catalog) -> None:
    with frontend_client(tmp_path, catalog) as client:
        html = client.get("/products/1").text
    img = picture_of(html, "Desk Lamp")
    assert_responsive(img)
    # The page's main picture is its largest paint: fetched at once rather than lazily.
    assert 'fetchpriority="high"' in img and 'loading="lazy"' not in img


def test_cart_lines_show_the_small_picture(tmp_path, catalog) -> None:
    with (
        cart_service(tmp_path, catalog) as carts,
        frontend_client(tmp_path, catalog, cart_transport=carts) as client,
    ):
        client.post("/api/cart/items", json={"product_id": 1})
        client.post("/api/cart/items", json={"product_id": 2})
        html = client.get("/cart").text
    img = picture_of(html, "Desk Lamp")
    assert_responsive(img)
    assert 'sizes="4rem"' in img and 'loading="lazy"' in img
    bare = re.search(r'data-product-id="2".*?</tr>', html, re.S).group(0)
    assert 'data-testid="image-placeholder"' in bare
