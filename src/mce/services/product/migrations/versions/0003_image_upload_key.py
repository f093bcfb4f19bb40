"""The key of each product's current picture upload, so a stale thumbnail report is refused."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: an instant change on PostgreSQL and on SQLite, whatever the table's size.
    op.add_column("products", sa.Column("image_upload_key", sa.String(255), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): no table rebuild, so SQLite keeps its id high-water mark.
    op.execute("ALTER TABLE products DROP COLUMN image_upload_key")
