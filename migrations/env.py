"""Alembic environment: runs migrations on the app's own engine, inside one transaction, which also records the
statement timeout as the role's default when a transaction pooler is in front (app.core.database)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from advanced_alchemy.base import metadata_registry
from alembic import context

import app.models  # noqa: F401  (registers every table on the metadata)
from app.core.database import record_statement_timeout
from app.core.migration_types import compare_column_types

if TYPE_CHECKING:
    from advanced_alchemy.alembic.commands import AlembicCommandConfig

config = cast("AlembicCommandConfig", context.config)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata_registry.get(config.bind_key),
        compare_type=compare_column_types if config.compare_type else False,
        version_table=config.version_table_name,
        version_table_schema=config.version_table_schema,
        render_as_batch=config.render_as_batch,
        user_module_prefix=config.user_module_prefix,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=config.db_url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with config.engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
            record_statement_timeout(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
