"""The demo catalog's pictures: every product gets an upload, stored and announced as an admin's would be."""

from __future__ import annotations

import time

from mce.kit.blob.factory import build_blob_store
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.db import make_engine
from mce.services.product.images import check_image
from mce.services.product.seed import seed_demo_catalog
from mce.services.product.settings import ProductSettings
from mce.services.product.store.sql import SqlCatalogQueries


def test_the_seed_gives_every_product_an_upload_that_notifies_the_processor(tmp_path) -> None:
    settings = ProductSettings(data_dir=tmp_path)
    assert seed_demo_catalog(settings, count=60) == 60
    engine = make_engine(settings.resolved_url())
    queries = SqlCatalogQueries(engine)
    keys = {}
    for product_id in range(1, 61):
        product, key = queries.image_state(product_id)
        assert key is not None and key.startswith(f"uploads/products/{product_id}/") and key.endswith(".jpg")
        keys[key] = product
    engine.dispose()
    blobs = build_blob_store(settings)
    for key in keys:
        stored, info = blobs.get(key)
        assert info.content_type == "image/jpeg"
        assert check_image(stored, max_bytes=settings.upload_max_bytes, max_pixels=10**6).format == "JPEG"
    bus = SqliteEventBus(tmp_path / "bus.db")
    subscription = bus.subscribe("blob-notifications", "test-reader")
    seen: list = []
    deadline = time.monotonic() + 5
    while len(seen) < 60 and time.monotonic() < deadline:
        seen += [delivery.event.key for delivery in subscription.poll(100, timeout=0.2)]
    bus.close()
    assert sorted(seen) == sorted(keys)


def test_a_seed_without_pictures_stores_nothing(tmp_path) -> None:
    assert seed_demo_catalog(ProductSettings(data_dir=tmp_path), count=5, pictures=False) == 5
    assert not (tmp_path / "blobs").exists()
