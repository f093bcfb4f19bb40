"""Cart adds on DynamoDB (moto) beside SQLite, and S3 put -> thumbnails through SQS, on moto's server.

`AWS_ENDPOINT_URL=http://127.0.0.1:15000 python -m bench.aws_moto [adds]` (start moto with deploy/local/moto.sh).
moto is an emulator in one Python process: these figures are moto's speed on this machine, not DynamoDB's or S3's.
Adds go through the cart's use case (read, conditional write with its event's outbox item) with a catalog in
memory, one thread, on fresh tables; the upload figure is from the put of a 1600x1200 JPEG to the product being told.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

from bench.run import machine
from mce.kit.aws import aws_client
from mce.kit.blob.s3 import S3BlobStore
from mce.kit.db import make_engine
from mce.services.cart import usecases
from mce.services.cart.domain import CatalogProduct
from mce.services.cart.store.dynamo import DynamoCartStore, ensure_tables
from mce.services.cart.store.port import CartStore
from mce.services.cart.store.sql import SqlCartStore
from mce.services.cart.store.tables import MIGRATIONS
from mce.services.image_processor.app import create_app
from mce.services.image_processor.settings import ImageProcessorServiceSettings
from tests.fakes.product_images import FakeProductImages
from tests.images import marked_jpeg

TOKEN = "bench-token-0123456789-0123456789"


class Catalog:
    def product(self, product_id: int) -> CatalogProduct:
        return CatalogProduct(product_id, f"Product {product_id}", Decimal("9.99"), 10_000)


def adds_ms(store: CartStore, count: int) -> list[float]:
    """Each add's wall time: 20 carts, 1 to 10 lines each, so reads and writes grow as carts fill."""
    times = []
    for n in range(count):
        began = time.perf_counter()
        usecases.add_item(store, Catalog(), cart_id=f"bench-{n % 20}", product_id=1 + n % 10, quantity=1)
        times.append((time.perf_counter() - began) * 1000)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"p50 {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms over {len(ordered)}"


def upload_to_thumbnail_ms(data_dir: Path, uploads: int) -> list[float]:
    """From the put under uploads/ to the product service told of its thumbnails, through S3 -> SQS -> runner."""
    product = FakeProductImages(TOKEN).start()
    suffix = uuid.uuid4().hex[:10]
    settings = ImageProcessorServiceSettings(
        data_dir=data_dir,
        blob_store="s3",
        blob_bucket=f"bench-{suffix}",
        blob_queue=f"bench-{suffix}",
        image_queue_wait_s=20,
        product_url=product.url,
        image_processor_token=TOKEN,
        max_loop_lag_ms=60_000,
    )
    times = []
    try:
        with TestClient(create_app(settings)):
            store = S3BlobStore(aws_client("s3", local=True), settings.blob_bucket)
            photo = marked_jpeg(1600, 1200)
            for n in range(uploads):
                key = f"uploads/products/{n + 1}/{n:032x}.jpg"
                product.current_upload[n + 1] = key
                began = time.perf_counter()
                store.put(key, photo, "image/jpeg")
                while n + 1 not in product.images:
                    time.sleep(0.002)
                times.append((time.perf_counter() - began) * 1000)
            store.close()
    finally:
        product.stop()
    return times


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    print(f"machine: {machine()}; moto is an emulator: these are not DynamoDB's or S3's figures")
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'cart.db'}"
        MIGRATIONS.apply(url)
        engine = make_engine(url)
        print(f"cart add on SQLite:          {summary(adds_ms(SqlCartStore(engine), count))}")
        engine.dispose()
        client = aws_client("dynamodb", local=True)
        table = f"bench-{uuid.uuid4().hex[:10]}"
        ensure_tables(client, table, f"{table}-outbox")
        try:
            store = DynamoCartStore(client, table, f"{table}-outbox")
            print(f"cart add on DynamoDB (moto): {summary(adds_ms(store, count))}")
        finally:
            client.delete_table(TableName=table)
            client.delete_table(TableName=f"{table}-outbox")
        print(
            f"S3 put -> thumbnails -> product told (moto, SQS): {summary(upload_to_thumbnail_ms(Path(directory), 30))}"
        )


if __name__ == "__main__":
    main()
