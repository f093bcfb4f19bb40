"""Product photos at the product service: uploads checked and stored for the processor, and the processor's report."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.settings import SettingsError
from mce.services.product.app import create_app
from mce.services.product.settings import ProductSettings
from tests.inprocess import IN_PROCESS

TOKEN = "test-admin-token-0123456789"
PROCESSOR_TOKEN = "test-processor-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
PROCESSOR = {"Authorization": f"Bearer {PROCESSOR_TOKEN}"}
NEW = {"name": "Desk Lamp", "description": "Warm light", "price": "59.99", "stock": 7, "category": "Home"}


def jpeg(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims these dimensions, with a tiny compressed body: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def report(product_id: int, upload_key: str) -> dict[str, str]:
    """The processor's report of an upload's thumbnails, as the contract spells it."""
    upload_id = upload_key.rsplit("/", 1)[1].split(".")[0]
    base = f"/images/thumbnails/products/{product_id}/{upload_id}"
    return {"upload_key": upload_key, "image_url": f"{base}-512.webp", "thumbnail_url": f"{base}-128.webp"}


def events(data_dir: Path, topic: str, wanted: int) -> list:
    bus = SqliteEventBus(data_dir / "bus.db")
    subscription = bus.subscribe(topic, "test-reader")
    seen = []
    deadline = time.monotonic() + 5
    while len(seen) < wanted and time.monotonic() < deadline:
        seen += [delivery.event for delivery in subscription.poll(100, timeout=0.2)]
    bus.close()
    return seen


@pytest.fixture
def settings(tmp_path: Path) -> ProductSettings:
    return ProductSettings(
        data_dir=tmp_path,
        admin_token=TOKEN,
        image_processor_token=PROCESSOR_TOKEN,
        upload_max_bytes=64 * 1024,
        **IN_PROCESS,
    )


@pytest.fixture
def client(settings: ProductSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        client.post("/categories", json={"name": "Home"}, headers=ADMIN)
        yield client


@pytest.fixture
def product(client: TestClient) -> dict:
    created = client.post("/products", json=NEW, headers=ADMIN)
    assert created.status_code == 201, created.text
    return created.json()


def upload(client: TestClient, product_id: int, data: bytes | None = None) -> str:
    response = client.post(f"/products/{product_id}/image", content=data or jpeg(), headers=ADMIN)
    assert response.status_code == 202, response.text
    return response.json()["upload_key"]


def test_an_upload_is_stored_under_its_key_and_notifies_the_processor(client, product, tmp_path) -> None:
    response = client.post(f"/products/{product['id']}/image", content=jpeg(), headers=ADMIN)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "processing"
    key = body["upload_key"]
    assert key.startswith(f"uploads/products/{product['id']}/") and key.endswith(".jpg")
    assert len(key.rsplit("/", 1)[1]) == len("0123456789abcdef0123456789abcdef.jpg")
    assert (tmp_path / "blobs" / "mce-uploads" / key).exists()
    (notification,) = events(tmp_path, "blob-notifications", 1)
    assert notification.key == key
    assert notification.data["Records"][0]["s3"]["object"]["key"] == key
    state = client.get(f"/products/{product['id']}/image", headers=ADMIN).json()
    assert state == {**state, "upload_key": key, "status": "processing", "thumbnail_url": None}


@pytest.mark.parametrize("kind", ["PNG", "WEBP"])
def test_the_key_takes_the_sniffed_type_not_the_declared_one(client, product, kind) -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), "blue").save(out, kind)
    headers = {**ADMIN, "Content-Type": "image/jpeg"}
    response = client.post(f"/products/{product['id']}/image", content=out.getvalue(), headers=headers)
    assert response.json()["upload_key"].endswith({"PNG": ".png", "WEBP": ".webp"}[kind])


@pytest.mark.parametrize(
    "body", [b"GIF89a" + b"\0" * 64, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7", b""]
)
def test_anything_but_jpeg_png_or_webp_is_415_with_a_json_body(client, product, body) -> None:
    response = client.post(f"/products/{product['id']}/image", content=body, headers=ADMIN)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_an_upload_over_the_size_limit_is_413(client, product, tmp_path) -> None:
    response = client.post(f"/products/{product['id']}/image", content=b"\xff\xd8\xff" + b"\0" * 70_000, headers=ADMIN)
    assert response.status_code == 413
    assert not (tmp_path / "blobs" / "mce-uploads" / "uploads").exists()


def test_a_header_claiming_absurd_dimensions_is_422_before_any_decoding(client, product, tmp_path) -> None:
    response = client.post(
        f"/products/{product['id']}/image", content=png_header_claiming(100_000, 100_000), headers=ADMIN
    )
    assert response.status_code == 422
    assert "pixels" in response.json()["error"]["message"]
    assert client.get(f"/products/{product['id']}/image", headers=ADMIN).json()["upload_key"] is None


def test_a_picture_just_over_the_pixel_setting_is_422(tmp_path) -> None:
    settings = ProductSettings(
        data_dir=tmp_path,
        admin_token=TOKEN,
        image_processor_token=PROCESSOR_TOKEN,
        upload_max_pixels=64 * 48 - 1,
        **IN_PROCESS,
    )
    with TestClient(create_app(settings)) as client:
        client.post("/categories", json={"name": "Home"}, headers=ADMIN)
        created = client.post("/products", json=NEW, headers=ADMIN)
        assert created.status_code == 201, created.text
        product = created.json()
        assert client.post(f"/products/{product['id']}/image", content=jpeg(64, 48), headers=ADMIN).status_code == 422
        assert client.post(f"/products/{product['id']}/image", content=jpeg(63, 48), headers=ADMIN).status_code == 202


def test_a_truncated_image_is_422(client, product) -> None:
    response = client.post(f"/products/{product['id']}/image", content=b"\x89PNG\r\n\x1a\n\0\0", headers=ADMIN)
    assert response.status_code == 422


def test_uploads_need_the_admin_token_and_an_existing_product(client, product) -> None:
    assert client.post(f"/products/{product['id']}/image", content=jpeg()).status_code == 401
    assert client.post(f"/products/{product['id']}/image", content=jpeg(), headers=PROCESSOR).status_code == 401
    assert client.post("/products/999/image", content=jpeg(), headers=ADMIN).status_code == 404


def test_the_processors_report_sets_only_the_image_fields_and_announces_them(client, product, tmp_path) -> None:
    key = upload(client, product["id"])
    response = client.put(f"/products/{product['id']}/image", json=report(product["id"], key), headers=PROCESSOR)
    assert response.status_code == 200
    after = response.json()
    expected = report(product["id"], key)
    assert after["image_url"] == expected["image_url"] and after["thumbnail_url"] == expected["thumbnail_url"]
    unchanged = ("name", "description", "price", "stock", "category", "created_at")
    assert {k: after[k] for k in unchanged} == {k: product[k] for k in unchanged}
    assert after["version"] == product["version"] + 1
    seen = events(tmp_path, "products", 2)
    assert [e.type for e in seen] == ["ProductCreated", "ProductUpdated"]
    assert seen[1].data["thumbnail_url"] == expected["thumbnail_url"]
    assert client.get(f"/products/{product['id']}/image", headers=ADMIN).json()["status"] == "ready"


def test_a_repeated_report_changes_nothing_more(client, product, tmp_path) -> None:
    key = upload(client, product["id"])
    first = client.put(f"/products/{product['id']}/image", json=report(product["id"], key), headers=PROCESSOR)
    again = client.put(f"/products/{product['id']}/image", json=report(product["id"], key), headers=PROCESSOR)
    assert again.status_code == 200 and again.json()["version"] == first.json()["version"]
    assert [e.type for e in events(tmp_path, "products", 3)] == ["ProductCreated", "ProductUpdated"]


@pytest.mark.parametrize("headers", [{}, ADMIN, {"Authorization": "Bearer not-the-processor-token"}])
def test_only_the_processor_token_may_report(client, product, headers) -> None:
    key = upload(client, product["id"])
    response = client.put(f"/products/{product['id']}/image", json=report(product["id"], key), headers=headers)
    assert response.status_code == 401
    assert client.get(f"/products/{product['id']}").json()["image_url"] is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/products", NEW),
        ("PUT", "/products/1", {"name": "Taken over"}),
        ("DELETE", "/products/1", None),
        ("POST", "/products/1/image", None),
        ("GET", "/products/1/image", None),
        ("POST", "/categories", {"name": "Taken"}),
    ],
)
def test_the_processor_token_opens_nothing_else(client, product, method, path, body) -> None:
    response = client.request(method, path, json=body, headers=PROCESSOR)
    assert response.status_code == 401


def test_a_report_about_another_products_upload_is_refused(client, product) -> None:
    other = client.post("/products", json={**NEW, "name": "Other"}, headers=ADMIN).json()
    key = upload(client, other["id"])
    response = client.put(f"/products/{product['id']}/image", json=report(other["id"], key), headers=PROCESSOR)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "upload_key"


@pytest.mark.parametrize(
    "change",
    [
        {"image_url": "https://evil.example/a.webp"},
        {"image_url": "/images/thumbnails/products/999/x-512.webp"},
        {"thumbnail_url": "/images/uploads/products/1/x.jpg"},
        {"thumbnail_url": "javascript:alert(1)"},
        {"upload_key": "uploads/products/1/../../etc/passwd"},
        {"unexpected": "field"},
    ],
)
def test_a_report_must_name_exactly_this_uploads_thumbnails(client, product, change) -> None:
    key = upload(client, product["id"])
    response = client.put(
        f"/products/{product['id']}/image", json={**report(product["id"], key), **change}, headers=PROCESSOR
    )
    assert response.status_code == 422
    assert client.get(f"/products/{product['id']}").json()["image_url"] is None


def test_a_report_about_a_replaced_upload_is_409_and_the_newest_wins(client, product) -> None:
    older = upload(client, product["id"])
    newer = upload(client, product["id"])
    stale = client.put(f"/products/{product['id']}/image", json=report(product["id"], older), headers=PROCESSOR)
    assert stale.status_code == 409
    fresh = client.put(f"/products/{product['id']}/image", json=report(product["id"], newer), headers=PROCESSOR)
    assert fresh.status_code == 200
    assert fresh.json()["thumbnail_url"] == report(product["id"], newer)["thumbnail_url"]


def test_a_report_about_a_deleted_product_is_404(client, product) -> None:
    key = upload(client, product["id"])
    client.delete(f"/products/{product['id']}", headers=ADMIN)
    response = client.put(f"/products/{product['id']}/image", json=report(product["id"], key), headers=PROCESSOR)
    assert response.status_code == 404


def test_of_concurrent_uploads_the_last_recorded_is_current_and_only_its_report_applies(client, product) -> None:
    keys: list[str] = []
    lock = threading.Lock()

    def send() -> None:
        key = upload(client, product["id"])
        with lock:
            keys.append(key)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    current = client.get(f"/products/{product['id']}/image", headers=ADMIN).json()["upload_key"]
    assert current in keys
    statuses = {
        key: client.put(
            f"/products/{product['id']}/image", json=report(product["id"], key), headers=PROCESSOR
        ).status_code
        for key in keys
    }
    assert statuses == {key: 200 if key == current else 409 for key in keys}


def test_an_admin_who_sets_an_image_address_drops_the_uploaded_thumbnail_and_any_pending_upload(
    client, product
) -> None:
    applied = upload(client, product["id"])
    client.put(f"/products/{product['id']}/image", json=report(product["id"], applied), headers=PROCESSOR)
    pending = upload(client, product["id"])
    changed = client.put(
        f"/products/{product['id']}", json={"image_url": "https://cdn.example/lamp.jpg"}, headers=ADMIN
    )
    assert changed.json()["thumbnail_url"] is None
    late = client.put(f"/products/{product['id']}/image", json=report(product["id"], pending), headers=PROCESSOR)
    assert late.status_code == 409
    assert client.get(f"/products/{product['id']}").json()["image_url"] == "https://cdn.example/lamp.jpg"


def test_saving_other_fields_keeps_the_picture_and_a_pending_upload(client, product) -> None:
    applied = upload(client, product["id"])
    done = client.put(f"/products/{product['id']}/image", json=report(product["id"], applied), headers=PROCESSOR).json()
    pending = upload(client, product["id"])
    client.put(
        f"/products/{product['id']}", json={"name": "Desk Lamp II", "image_url": done["image_url"]}, headers=ADMIN
    )
    assert client.get(f"/products/{product['id']}").json()["thumbnail_url"] == done["thumbnail_url"]
    late = client.put(f"/products/{product['id']}/image", json=report(product["id"], pending), headers=PROCESSOR)
    assert late.status_code == 200


def test_the_processor_token_must_differ_from_the_admin_token(tmp_path) -> None:
    with pytest.raises(SettingsError, match="MCE_IMAGE_PROCESSOR_TOKEN"):
        create_app(ProductSettings(data_dir=tmp_path, admin_token=TOKEN, image_processor_token=TOKEN))


def test_production_requires_a_processor_token_and_a_laptop_generates_one(tmp_path) -> None:
    with pytest.raises(SettingsError, match="MCE_IMAGE_PROCESSOR_TOKEN"):
        production = {"env": "production", "database_url": "postgresql://db.invalid/product"}
        create_app(ProductSettings(data_dir=tmp_path, admin_token=TOKEN, **production))
    with pytest.raises(SettingsError, match="at least 16"):
        create_app(ProductSettings(data_dir=tmp_path, admin_token=TOKEN, image_processor_token="short"))
    create_app(ProductSettings(data_dir=tmp_path, admin_token=TOKEN))
    assert len((tmp_path / "secrets" / "image-processor-token").read_text().strip()) >= 16


def test_only_the_upload_takes_a_photo_sized_body_and_other_routes_keep_the_small_cap(tmp_path) -> None:
    settings = ProductSettings(
        data_dir=tmp_path,
        admin_token=TOKEN,
        image_processor_token=PROCESSOR_TOKEN,
        max_body_bytes=4096,
        upload_max_bytes=256 * 1024,
    )
    photo = jpeg(400, 300) + bytes(20_000)  # JPEG readers stop at the end-of-image marker
    with TestClient(create_app(settings)) as client:
        client.post("/categories", json={"name": "Home"}, headers=ADMIN)
        product = client.post("/products", json=NEW, headers=ADMIN).json()
        assert len(photo) > 4096
        assert client.post(f"/products/{product['id']}/image", content=photo, headers=ADMIN).status_code == 202
        padded = {"upload_key": "x" * 20_000, "image_url": "", "thumbnail_url": ""}
        assert client.put(f"/products/{product['id']}/image", json=padded, headers=PROCESSOR).status_code == 413
        big_product = {**NEW, "description": "x" * 5000}
        assert client.post("/products", json=big_product, headers=ADMIN).status_code == 413
