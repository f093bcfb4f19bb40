"""Alembic environment for the analytics database; the URL comes from the caller's config."""

from mce.kit.db import run_alembic_environment
from mce.services.analytics.store.tables import MIGRATIONS, metadata

run_alembic_environment(metadata, MIGRATIONS.version_table)
