"""Every CartStore a contract test runs against: SQLite always, PostgreSQL and DynamoDB (moto) when they are up."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from mce.kit.aws import aws_client
from mce.kit.events import Event
from mce.services.cart.store.dynamo import DynamoCartStore, ensure_tables
from mce.services.cart.store.port import CartStore
from mce.services.cart.store.sql import SqlCartStore
from mce.services.cart.store.tables import MIGRATIONS, outbox
from tests.dbs import migrated_engine, migrated_postgres

TABLES = "carts, outbox"
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("dynamodb", marks=pytest.mark.aws),
]


@dataclass
class CartBackend:
    """A store's maker (given what to call on commit) and a reader of the (topic, event)s it staged, in write order."""

    open: Callable[..., CartStore]
    staged: Callable[[], list[tuple[str, Event]]]


def sql_backend(engine: Engine) -> CartBackend:
    def staged() -> list[tuple[str, Event]]:
        with engine.connect() as conn:
            rows = conn.execute(select(outbox.c.topic, outbox.c.payload).order_by(outbox.c.id)).all()
        return [(topic, Event.from_bytes(payload)) for topic, payload in rows]

    return CartBackend(lambda on_commit=lambda: None: SqlCartStore(engine, on_commit=on_commit), staged)


def dynamo_tables() -> tuple[str, str]:
    """A fresh pair of table names, so tests never see one another's carts."""
    name = f"carts-{uuid.uuid4().hex[:12]}"
    return name, f"{name}-outbox"


def staged_in_dynamo(client: Any, outbox_table: str) -> list[tuple[str, Event]]:
    """The outbox table's (topic, event)s in the order they were staged."""
    items = client.scan(TableName=outbox_table, ConsistentRead=True)["Items"]
    items.sort(key=lambda item: item["seq"]["S"])
    return [(item["topic"]["S"], Event.from_bytes(item["payload"]["B"])) for item in items]


def dynamo_backend(request: pytest.FixtureRequest) -> Iterator[CartBackend]:
    """Fresh cart and outbox tables on moto, dropped afterwards."""
    request.getfixturevalue("aws_endpoint_url")
    client = aws_client("dynamodb", local=True)
    table, outbox_table = dynamo_tables()
    ensure_tables(client, table, outbox_table)
    try:
        yield CartBackend(
            lambda on_commit=lambda: None: DynamoCartStore(client, table, outbox_table, on_commit=on_commit),
            lambda: staged_in_dynamo(client, outbox_table),
        )
    finally:
        for name in (table, outbox_table):
            client.delete_table(TableName=name)
        client.close()


def cart_backend_fixtures() -> tuple[Any, Any]:
    """A contract module's `postgres_engine` (one database per module) and `backend`, over every store.

    Bind both: `postgres_engine, backend = cart_backend_fixtures()`.
    """

    @pytest.fixture(scope="module")
    def postgres_engine(postgres_url: str) -> Iterator[Engine]:
        with migrated_postgres(postgres_url, MIGRATIONS) as engine:
            yield engine

    @pytest.fixture(params=BACKENDS)
    def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CartBackend]:
        if request.param == "dynamodb":
            yield from dynamo_backend(request)
            return
        with migrated_engine(request, tmp_path, MIGRATIONS, TABLES) as engine:
            yield sql_backend(engine)

    return postgres_engine, backend
