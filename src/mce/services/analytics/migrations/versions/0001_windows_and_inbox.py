"""Windows by their start, with the version of the event kept, and the inbox of applied results."""

import sqlalchemy as sa
from alembic import op

from mce.kit.sqltypes import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "windows",
        sa.Column("window_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("window_end", sa.BigInteger, nullable=False),
        sa.Column("unique_users", sa.BigInteger, nullable=False),
        sa.Column("event_count", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql"), nullable=False),
        sa.Column("occurred_at_us", sa.BigInteger, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("stored_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_windows_stored_at", "windows", ["stored_at"])
    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "event_id", name="inbox_pk"),
    )
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("windows")
