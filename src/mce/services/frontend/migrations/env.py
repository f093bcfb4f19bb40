"""Alembic environment for the frontend database; the URL comes from the caller's config."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from mce.services.frontend.store.tables import MIGRATIONS, metadata

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with connectable.connect() as connection:
    # Batch mode lets later ALTERs work on SQLite, which rebuilds tables to alter them.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table=MIGRATIONS.version_table,
    )
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
