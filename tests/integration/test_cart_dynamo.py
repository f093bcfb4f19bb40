"""The cart on DynamoDB (moto's server): the item's shape, the outbox relay, table creation and failures."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mce.kit.aws import aws_client
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.errors import Unavailable
from mce.kit.http import AsgiTransport
from mce.services.cart import usecases
from mce.services.cart.app import create_app
from mce.services.cart.domain import CARTS_TOPIC, CatalogProduct
from mce.services.cart.settings import CartSettings
from mce.services.cart.store.dynamo import DynamoCartStore, ensure_tables
from mce.services.cart.store.dynamo_relay import DynamoOutboxRelay
from tests.cart_stores import dynamo_tables
from tests.conftest import free_port
from tests.fakes.catalog import FakeCatalog
from tests.inprocess import IN_PROCESS

pytestmark = pytest.mark.aws


class Catalog:
    def product(self, product_id: int) -> CatalogProduct:
        return CatalogProduct(product_id, f"Product {product_id}", Decimal("19.90"), 1000)


@pytest.fixture
def client(aws_endpoint_url: str) -> Iterator[Any]:
    dynamodb = aws_client("dynamodb", local=True)
    yield dynamodb
    dynamodb.close()


@pytest.fixture
def tables(client: Any) -> Iterator[tuple[str, str]]:
    names = dynamo_tables()
    ensure_tables(client, *names)
    yield names
    for name in names:
        client.delete_table(TableName=name)


@pytest.fixture
def store(client: Any, tables: tuple[str, str]) -> DynamoCartStore:
    return DynamoCartStore(client, *tables)


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[SqliteEventBus]:
    events = SqliteEventBus(tmp_path / "bus.db")
    yield events
    events.close()


def published(bus: SqliteEventBus, expected: int, group: str = "test") -> list:
    subscription = bus.subscribe(CARTS_TOPIC, group)
    seen: list = []
    deadline = time.monotonic() + 5
    while len(seen) < expected and time.monotonic() < deadline:
        seen += [d.event for d in subscription.poll(500, timeout=0.2)]
    subscription.close()
    return seen


def test_a_cart_is_stored_as_the_designs_item_with_exact_decimal_money(store, client, tables) -> None:
    usecases.add_item(store, Catalog(), cart_id="shopper-1", product_id=4, quantity=3)
    item = client.get_item(TableName=tables[0], Key={"cartId": {"S": "shopper-1"}})["Item"]
    assert set(item) == {"cartId", "items", "total", "updatedAt", "version"}
    line = item["items"]["L"][0]["M"]
    assert set(line) == {"productId", "name", "quantity", "price"}
    # Numbers travel as decimal strings (DynamoDB may drop trailing zeros; moto keeps them).
    assert (line["productId"], line["quantity"]) == ({"N": "4"}, {"N": "3"})
    assert Decimal(line["price"]["N"]) == Decimal("19.90") and Decimal(item["total"]["N"]) == Decimal("59.70")
    assert item["version"] == {"N": "1"}
    cart = store.get("shopper-1")
    assert cart.items[0].price == Decimal("19.90") and str(cart.items[0].price) == "19.90"
    assert str(cart.total) == "59.70"


def test_the_relay_publishes_each_carts_events_in_order_and_empties_the_outbox(store, client, tables, bus) -> None:
    for product_id in (1, 2, 3):
        usecases.add_item(store, Catalog(), cart_id="a", product_id=product_id, quantity=1)
        usecases.add_item(store, Catalog(), cart_id="b", product_id=product_id, quantity=1)
    usecases.clear_cart(store, cart_id="a")
    relay = DynamoOutboxRelay(client, tables[1], bus, batch=3)
    assert relay.backlog() == 7
    while relay.relay_once():
        pass
    seen = published(bus, 7)
    assert relay.backlog() == 0 and relay.published == 7
    by_cart = {key: [e.data["cart_version"] for e in seen if e.key == key] for key in ("a", "b")}
    assert by_cart == {"a": [1, 2, 3, 4], "b": [1, 2, 3]}
    assert seen[[e.key for e in seen].index("a") + 3].type == "CartCleared"


def test_relays_running_at_once_publish_every_event_and_delete_each_once(store, client, tables, bus) -> None:
    for n in range(40):
        usecases.add_item(store, Catalog(), cart_id=f"c{n % 8}", product_id=n + 1, quantity=1)
    relays = [DynamoOutboxRelay(client, tables[1], bus, batch=10) for _ in range(3)]
    threads = [threading.Thread(target=lambda r=r: [None for _ in iter(r.relay_once, 0)]) for r in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    seen = published(bus, 40)
    assert relays[0].backlog() == 0
    assert sum(relay.published for relay in relays) == 40
    assert len({event.event_id for event in seen}) == 40  # duplicates allowed, losses not


def test_the_relay_thread_is_woken_by_a_commit(client, tables, bus) -> None:
    relay = DynamoOutboxRelay(client, tables[1], bus, idle_poll_s=30)
    store = DynamoCartStore(client, *tables, on_commit=relay.wake)
    relay.start()
    try:
        usecases.add_item(store, Catalog(), cart_id="a", product_id=1, quantity=1)
        assert [e.type for e in published(bus, 1)] == ["CartItemAdded"]
    finally:
        relay.stop()


def test_tables_are_made_once_however_many_processes_start_at_once(client) -> None:
    names = dynamo_tables()
    errors: list[BaseException] = []

    def make() -> None:
        try:
            ensure_tables(client, *names)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        table = client.describe_table(TableName=names[0])["Table"]
        assert table["KeySchema"] == [{"AttributeName": "cartId", "KeyType": "HASH"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    finally:
        for name in names:
            client.delete_table(TableName=name)


def test_a_missing_table_is_unavailable_not_an_error(client) -> None:
    store = DynamoCartStore(client, "no-such-carts", "no-such-outbox")
    with pytest.raises(Unavailable) as down:
        store.get("a")
    assert down.value.service == "cart table"
    with pytest.raises(Unavailable):
        store.ping()


def test_an_endpoint_that_does_not_answer_is_unavailable_fast(monkeypatch, aws_endpoint_url) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    store = DynamoCartStore(aws_client("dynamodb", local=True, timeout_s=1), "carts", "carts-outbox")
    began = time.monotonic()
    with pytest.raises(Unavailable):
        store.get("a")
    with pytest.raises(Unavailable):
        usecases.add_item(store, Catalog(), cart_id="a", product_id=1, quantity=1)
    assert time.monotonic() - began < 10


def test_the_cart_service_runs_on_dynamodb_making_its_tables_locally(aws_endpoint_url, client, tmp_path) -> None:
    table = f"carts-{uuid.uuid4().hex[:12]}"
    catalog = FakeCatalog()
    catalog.add("Pen", price="0.10", stock=50)
    settings = CartSettings(data_dir=tmp_path, cart_store="dynamodb", cart_table=table, **IN_PROCESS)
    try:
        with TestClient(create_app(settings, product_transport=AsgiTransport(catalog.app()))) as http:
            added = http.post("/carts/s1/items", json={"product_id": 1, "quantity": 2})
            assert added.status_code == 201 and added.json()["total"] == "0.20"
            assert http.get("/carts/s1").json() == added.json()
            assert http.get("/readyz").json()["checks"]["database"] == "ok"
            bus = SqliteEventBus(tmp_path / "bus.db")
            try:
                assert [e.type for e in published(bus, 1)] == ["CartItemAdded"]
            finally:
                bus.close()
        assert not (tmp_path / "cart.db").exists()
    finally:
        for name in (table, f"{table}-outbox"):
            client.delete_table(TableName=name)


def test_in_production_the_service_does_not_make_tables_and_is_not_ready_without_them(aws_endpoint_url, tmp_path):
    table = f"carts-{uuid.uuid4().hex[:12]}"
    settings = CartSettings(data_dir=tmp_path, env="production", cart_store="dynamodb", cart_table=table, **IN_PROCESS)
    with TestClient(create_app(settings)) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("failed")
        answer = http.get("/carts/s1")
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "unavailable"
