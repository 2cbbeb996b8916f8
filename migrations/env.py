"""Alembic environment: runs migrations on the app's own engine, each revision in a transaction of its own.

A revision's locks end with its own transaction, not with the last revision's, and a release that fails part-way
keeps the revisions it applied: running it again carries on from the one that failed. Behind a transaction pooler
it also records the statement timeout as the role's default (app.core.database).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from advanced_alchemy.base import metadata_registry
from alembic import context

import app.models  # noqa: F401  (registers every table on the metadata)
from app.core.database import record_statement_timeout
from app.core.migration_types import compare_column_types

if TYPE_CHECKING:
    from collections.abc import Iterator

    from advanced_alchemy.alembic.commands import AlembicCommandConfig
    from sqlalchemy import Connection

config = cast("AlembicCommandConfig", context.config)

# How long a migration waits for a lock before it fails. While it waits, every query of that table queues behind
# it: a migration stuck behind a long transaction would stall the site, a failed one only the release (README,
# Deploy). The web's statement timeout is lifted: index builds and data migrations on large tables outlast it.
LOCK_TIMEOUT = "1s"


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata_registry.get(config.bind_key),
        compare_type=compare_column_types if config.compare_type else False,
        version_table=config.version_table_name,
        version_table_schema=config.version_table_schema,
        render_as_batch=config.render_as_batch,
        user_module_prefix=config.user_module_prefix,
        transaction_per_migration=True,
        **kwargs,
    )


@contextmanager
def _migration_session(connection: Connection) -> Iterator[None]:
    if connection.dialect.name != "postgresql":
        yield
        return
    # Session settings (a concurrent index build runs outside any transaction). Connected directly, they end with
    # the connection, which is closed rather than returned to the pool; behind a transaction pooler the server
    # session outlives it and serves the app next, so they are undone, and the app's timeout set, first.
    connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    connection.exec_driver_sql("SET statement_timeout = 0")
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.exec_driver_sql("RESET lock_timeout")
        connection.exec_driver_sql("RESET statement_timeout")
        record_statement_timeout(connection)
        connection.commit()
        connection.invalidate()


def run_migrations_offline() -> None:
    _configure(url=config.db_url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with config.engine.connect() as connection, _migration_session(connection):
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
