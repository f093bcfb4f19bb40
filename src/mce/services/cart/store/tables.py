"""SQL tables of the cart service; the migrations create them, the adapter queries them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

from mce.kit.db import Migrations
from mce.kit.outbox import outbox_lease_table, outbox_table

MIGRATIONS = Migrations(Path(__file__).parent.parent / "migrations", "alembic_version_cart")

metadata = MetaData()

# One JSON document per cart, as DynamoDB keeps it; `version` is the condition every write checks.
carts = Table(
    "carts",
    metadata,
    Column("cart_id", String(64), primary_key=True),
    Column("document", Text, nullable=False),
    Column("version", Integer, nullable=False),
    # Beside the document so old carts can be found and expired without reading every document.
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)

outbox = outbox_table(metadata)
outbox_lease = outbox_lease_table(metadata)
