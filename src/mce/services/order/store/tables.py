"""SQL tables of the order service; the migrations create them, the adapter queries them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from mce.kit.contracts import SHOPPER_KEY_MAX
from mce.kit.db import Migrations
from mce.kit.idempotency import idempotency_table
from mce.kit.outbox import outbox_lease_table, outbox_table
from mce.kit.sqltypes import Money, UtcDateTime

MIGRATIONS = Migrations(Path(__file__).parent.parent / "migrations", "alembic_version_order")

OWNER_MAX = SHOPPER_KEY_MAX

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The cart key the gateway checked out for: account-<id> or guest-<id>.
    Column("owner", String(OWNER_MAX), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total_amount", Money, nullable=False),
    Column("currency", String(3), nullable=False, server_default="USD"),
    # The address as validated, a JSON object: it is read back whole and never queried by its parts.
    Column("shipping_address", Text, nullable=False),
    Column("payment_brand", String(20), nullable=True),
    Column("payment_last4", String(4), nullable=True),
    Column("payment_reference", String(40), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Ids are never reused, so a late event or a bookmarked link cannot land on another shopper's order.
    sqlite_autoincrement=True,
)
Index("orders_by_owner_newest", orders.c.owner, orders.c.id)

order_items = Table(
    "order_items",
    metadata,
    Column("order_id", Integer, ForeignKey("orders.id", name="order_items_order_fk"), primary_key=True),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("product_id", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price", Money, nullable=False),
)

order_status_history = Table(
    "order_status_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("order_id", Integer, ForeignKey("orders.id", name="order_status_history_order_fk"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", String(500), nullable=True),
)
Index("order_status_history_by_order", order_status_history.c.order_id, order_status_history.c.id)

outbox = outbox_table(metadata)
outbox_lease = outbox_lease_table(metadata)
idempotency_keys = idempotency_table(metadata)
