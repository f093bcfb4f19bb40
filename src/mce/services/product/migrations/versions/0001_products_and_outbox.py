"""Products table and the transactional outbox."""

import sqlalchemy as sa
from alembic import op

from mce.services.product.store.tables import Money, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("price", Money, nullable=False),
        sa.Column("stock", sa.Integer, nullable=False, server_default="0"),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("image_url", sa.String(2048), nullable=True),
        sa.Column("thumbnail_url", sa.String(2048), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("stock >= 0", name="products_stock_not_negative"),
        sa.CheckConstraint("price >= 0", name="products_price_not_negative"),
        sqlite_autoincrement=True,
    )
    op.create_index("products_by_category_newest", "products", ["category", "created_at", "id"])
    op.create_index("products_by_newest", "products", ["created_at", "id"])
    op.create_index("products_by_category_price", "products", ["category", "price", "id"])
    op.create_index("products_by_price", "products", ["price", "id"])
    op.create_index("products_by_name", "products", ["name", "id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("products")
