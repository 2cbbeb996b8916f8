"""No migration locks a table in use for longer than a moment (PostgreSQL; SQLite has no concurrent sessions to
block): each revision's statements pass the lock rules both ways, and a migration stuck behind a long transaction
gives up after the lock timeout instead of stalling every query of the table queued behind it."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from app.core.database import MIGRATIONS_DIR, build_engine
from app.core.settings import Settings
from tests.conftest import DATABASE_PREFIX, _postgres_database, make_settings
from tests.migrations.lint import findings
from tests.migrations.steps import Revisions, read_schema


@pytest.fixture
def empty_postgres(worker_id_suffix: str) -> Iterator[tuple[Settings, Engine]]:
    settings = make_settings(_postgres_database(f"{DATABASE_PREFIX}_migration_locks{worker_id_suffix}"))
    engine = build_engine(settings)
    yield settings, engine
    engine.dispose()


def test_no_revision_locks_a_table_in_use_either_way(empty_postgres: tuple[Settings, Engine]) -> None:
    revisions = Revisions(*empty_postgres)
    found = []
    for revision in revisions.order:
        found += findings(revisions.upgrade(revision))
        found += findings(revisions.downgrade(revision))
        revisions.upgrade(revision)
    assert not found, "\n".join(map(str, found))
    # What is added NOT VALID is validated, and what is built CONCURRENTLY was built.
    with revisions.engine.connect() as connection:
        unchecked = connection.exec_driver_sql("SELECT conname FROM pg_constraint WHERE NOT convalidated").all()
        invalid = connection.exec_driver_sql("SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid").all()
    assert (unchecked, invalid) == ([], [])


LOCKING_REVISION = '''"""a revision that would lock post and user_account"""
import sqlalchemy as sa
from alembic import op

revision = "10c4ed000001"
down_revision = {head!r}


def upgrade():
    op.create_index("ix_post_title", "post", ["title"])
    op.add_column("user_account", sa.Column("nickname", sa.String(40), nullable=False))
    op.add_column("post", sa.Column("token", sa.Uuid(), server_default=sa.text("gen_random_uuid()")))
    op.create_foreign_key("fk_post_editor", "post", "user_account", ["author_id"], ["id"])
    op.create_unique_constraint("uq_post_title", "post", ["title"])
    op.alter_column("post", "content", type_=sa.String(200))
    op.alter_column("post", "published_at", nullable=False)
    op.execute("UPDATE post SET is_published = false")
    # Each of these takes its lock for a moment only.
    op.add_column("post", sa.Column("summary", sa.Text(), nullable=True))
    op.add_column("post", sa.Column("views", sa.Integer(), nullable=False, server_default="0"))
    op.alter_column("post", "title", type_=sa.String(300))
    op.create_foreign_key("fk_post_reviewer", "post", "user_account", ["author_id"], ["id"], postgresql_not_valid=True)
    op.execute("UPDATE post SET views = 1 WHERE views = 0")
    with op.get_context().autocommit_block():
        op.execute("ALTER TABLE post VALIDATE CONSTRAINT fk_post_reviewer")
        op.drop_index("ix_post_created", "post", postgresql_concurrently=True, if_exists=True)
        op.create_index("ix_post_created", "post", ["created_at"], postgresql_concurrently=True)


def downgrade():
    op.drop_index("ix_post_title", "post")
    with op.get_context().autocommit_block():
        op.drop_index("ix_post_created", "post", postgresql_concurrently=True)
    op.drop_constraint("fk_post_reviewer", "post")
    op.drop_constraint("fk_post_editor", "post")
    op.drop_constraint("uq_post_title", "post")
    op.alter_column("post", "published_at", nullable=True)
    op.drop_column("post", "views")
    op.drop_column("post", "summary")
    op.drop_column("post", "token")
    op.drop_column("user_account", "nickname")
'''


def test_the_rules_refuse_what_would_lock_and_say_what_to_do(
    empty_postgres: tuple[Settings, Engine], tmp_path: Path
) -> None:
    shutil.copytree(MIGRATIONS_DIR, tmp_path / "migrations")
    head = Revisions(*empty_postgres).order[-1]
    (tmp_path / "migrations" / "versions" / "locking.py").write_text(LOCKING_REVISION.format(head=head))
    revisions = Revisions(*empty_postgres, script_location=tmp_path / "migrations")
    revisions.commands.upgrade(head)

    up = findings(revisions.upgrade("10c4ed000001"))
    down = findings(revisions.downgrade("10c4ed000001"))

    assert [(finding.rule, finding.statement.split(" ")[:4]) for finding in up] == [
        ("index built without CONCURRENTLY", ["CREATE", "INDEX", "ix_post_title", "ON"]),
        ("NOT NULL column without a default", ["ALTER", "TABLE", "user_account", "ADD"]),
        ("new column filled row by row", ["ALTER", "TABLE", "post", "ADD"]),
        ("constraint checked under lock", ["ALTER", "TABLE", "post", "ADD"]),
        ("constraint builds its index under lock", ["ALTER", "TABLE", "post", "ADD"]),
        ("column type changed in place", ["ALTER", "TABLE", "post", "ALTER"]),
        ("SET NOT NULL scans under lock", ["ALTER", "TABLE", "post", "ALTER"]),
        ("every row written in one transaction", ["UPDATE", "post", "SET", "is_published"]),
    ]
    assert "postgresql_concurrently=True" in up[0].advice
    assert "upgrade of 10c4ed000001" in str(up[0])
    assert [(finding.rule, finding.statement) for finding in down] == [
        ("index dropped without CONCURRENTLY", "DROP INDEX ix_post_title")
    ]


MIGRATION_BEHIND_A_READER = "09934040a717"  # renames refresh_token.family_id: a moment's ACCESS EXCLUSIVE lock


def test_a_migration_behind_a_long_transaction_gives_up_and_a_retry_applies_it(
    empty_postgres: tuple[Settings, Engine],
) -> None:
    settings, engine = empty_postgres
    revisions = Revisions(settings, engine)
    revisions.commands.upgrade(revisions.parent(MIGRATION_BEHIND_A_READER))
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    failure: list[OperationalError] = []

    def migrate() -> None:
        try:
            revisions.commands.upgrade(MIGRATION_BEHIND_A_READER)
        except OperationalError as exc:
            failure.append(exc)

    with psycopg.connect(url) as reader, psycopg.connect(url, autocommit=True) as watcher:
        reader.execute("SELECT count(*) FROM refresh_token")  # its transaction stays open: a report, a backup...
        migration = threading.Thread(target=migrate)
        migration.start()
        while not watcher.execute(
            "SELECT 1 FROM pg_locks WHERE relation = 'refresh_token'::regclass AND mode = 'AccessExclusiveLock'"
            " AND NOT granted"
        ).fetchone():
            assert migration.is_alive(), "the migration ended without waiting for the reader"
            time.sleep(0.005)
        # A request's read queues behind the waiting migration, not behind the reader's transaction.
        with psycopg.connect(url, autocommit=True) as request:
            request.execute("SELECT count(*) FROM refresh_token")
        migration.join(timeout=30)
        assert reader.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert len(failure) == 1
    assert isinstance(failure[0].orig, psycopg.errors.LockNotAvailable)
    assert "login_session" not in read_schema(engine).tables  # nothing of the revision was applied

    revisions.commands.upgrade(MIGRATION_BEHIND_A_READER)
    schema = read_schema(engine)
    assert "login_session" in schema.tables
    assert ("refresh_token", "session_id") in schema.column_types
