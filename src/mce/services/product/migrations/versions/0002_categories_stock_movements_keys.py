"""Managed categories, the stock ledger, idempotency keys and the relay lease."""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from mce.services.product.store.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _key(name: str) -> str:
    """Case- and space-folded, as the catalog compares category names."""
    return " ".join(name.split()).casefold()


def _id_high_water(bind: sa.Connection) -> int | None:
    """SQLite's record of the highest product id ever given, which a table rebuild would lose."""
    if bind.dialect.name != "sqlite":
        return None
    return bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'products'")).scalar()


def _restore_high_water(bind: sa.Connection, seq: int | None) -> None:
    """Put the high-water mark back, so ids of deleted products are never given again."""
    if seq is not None:
        bind.execute(sa.text("UPDATE sqlite_sequence SET seq = max(seq, :seq) WHERE name = 'products'"), {"seq": seq})


def upgrade() -> None:
    bind = op.get_bind()
    high_water = _id_high_water(bind)
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("name_key", name="categories_name_key_unique"),
        sqlite_autoincrement=True,
    )
    categories = sa.table(
        "categories", sa.column("id"), sa.column("name"), sa.column("name_key"), sa.column("created_at", UtcDateTime)
    )
    # Every spelling already in use becomes (or joins) one managed category.
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    spellings = sorted(bind.execute(sa.text("SELECT DISTINCT category FROM products")).scalars())
    for spelling in spellings:
        key = _key(spelling)
        if key not in ids:
            ids[key] = bind.execute(
                categories.insert()
                .values(name=" ".join(spelling.split()), name_key=key, created_at=now)
                .returning(categories.c.id)
            ).scalar_one()
    op.drop_index("products_by_category_newest", table_name="products")
    op.drop_index("products_by_category_price", table_name="products")
    with op.batch_alter_table("products", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("category_id", sa.Integer, nullable=True))
    for spelling in spellings:
        bind.execute(
            sa.text("UPDATE products SET category_id = :id WHERE category = :spelling"),
            {"id": ids[_key(spelling)], "spelling": spelling},
        )
    with op.batch_alter_table("products", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("category_id", existing_type=sa.Integer, nullable=False)
        batch.create_foreign_key("products_category_fk", "categories", ["category_id"], ["id"])
        batch.drop_column("category")
    _restore_high_water(bind, high_water)
    op.create_index("products_by_category_newest", "products", ["category_id", "created_at", "id"])
    op.create_index("products_by_category_price", "products", ["category_id", "price", "id"])
    op.create_index("products_by_category_name", "products", ["category_id", "name", "id"])

    op.create_table(
        "stock_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("delta", sa.Integer, nullable=False),
        sa.Column("stock_after", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("product_id", "reference", name="stock_movements_reference_once"),
    )
    op.create_index("stock_movements_by_product", "stock_movements", ["product_id", "id"])

    op.create_table("outbox_lease", sa.Column("id", sa.Integer, primary_key=True, autoincrement=False))
    bind.execute(sa.text("INSERT INTO outbox_lease (id) VALUES (1)"))

    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("location", sa.String(2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="idempotency_keys_pk"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    bind = op.get_bind()
    high_water = _id_high_water(bind)
    op.drop_table("idempotency_keys")
    op.drop_table("outbox_lease")
    op.drop_table("stock_movements")
    op.drop_index("products_by_category_name", table_name="products")
    op.drop_index("products_by_category_price", table_name="products")
    op.drop_index("products_by_category_newest", table_name="products")
    with op.batch_alter_table("products", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("category", sa.String(64), nullable=True))
    op.execute(
        "UPDATE products SET category = (SELECT name FROM categories WHERE categories.id = products.category_id)"
    )
    with op.batch_alter_table("products", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("category", existing_type=sa.String(64), nullable=False)
        batch.drop_constraint("products_category_fk", type_="foreignkey")
        batch.drop_column("category_id")
    _restore_high_water(bind, high_water)
    op.create_index("products_by_category_newest", "products", ["category", "created_at", "id"])
    op.create_index("products_by_category_price", "products", ["category", "price", "id"])
    op.drop_table("categories")
