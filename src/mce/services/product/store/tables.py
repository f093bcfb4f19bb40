"""SQL tables of the product service; migrations create them, the adapter queries them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from mce.kit.db import Migrations
from mce.kit.idempotency import idempotency_table
from mce.kit.outbox import outbox_lease_table, outbox_table
from mce.kit.sqltypes import Money, UtcDateTime

MIGRATIONS = Migrations(Path(__file__).parent.parent / "migrations", "alembic_version_product")


metadata = MetaData()

categories = Table(
    "categories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    # The name case- and space-folded: two spellings of one category cannot both exist.
    Column("name_key", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("name_key", name="categories_name_key_unique"),
    sqlite_autoincrement=True,
)

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("price", Money, nullable=False),
    Column("stock", Integer, nullable=False, server_default="0"),
    Column("category_id", Integer, ForeignKey("categories.id", name="products_category_fk"), nullable=False),
    Column("image_url", String(2048), nullable=True),
    Column("thumbnail_url", String(2048), nullable=True),
    # The product's current picture upload (uploads/products/<id>/<upload id>.<ext>): the last one recorded wins,
    # and the image processor's report of any other is refused.
    Column("image_upload_key", String(255), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint("stock >= 0", name="products_stock_not_negative"),
    CheckConstraint("price >= 0", name="products_price_not_negative"),
    # Ids are never reused, so a late event about a deleted product cannot hit a new one.
    sqlite_autoincrement=True,
)
Index("products_by_category_newest", products.c.category_id, products.c.created_at, products.c.id)
Index("products_by_newest", products.c.created_at, products.c.id)
Index("products_by_category_price", products.c.category_id, products.c.price, products.c.id)
Index("products_by_price", products.c.price, products.c.id)
Index("products_by_name", products.c.name, products.c.id)
Index("products_by_category_name", products.c.category_id, products.c.name, products.c.id)

# Every change of stock, with why; a reference (e.g. an order's reservation) makes a retried change apply once.
stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("product_id", Integer, nullable=False),
    Column("delta", Integer, nullable=False),
    Column("stock_after", Integer, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("reference", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("product_id", "reference", name="stock_movements_reference_once"),
)
Index("stock_movements_by_product", stock_movements.c.product_id, stock_movements.c.id)

outbox = outbox_table(metadata)
outbox_lease = outbox_lease_table(metadata)
idempotency_keys = idempotency_table(metadata)
