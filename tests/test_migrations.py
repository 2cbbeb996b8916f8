"""Alembic migrations: head on an empty database (SQLite and PostgreSQL) matches the models exactly, each revision
downgrades to the schema it was applied to; data migrations keep what is stored. What the migrations lock on
PostgreSQL: tests/migrations/."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from advanced_alchemy.alembic.commands import AlembicCommands
from advanced_alchemy.base import metadata_registry
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Boolean, String, column, inspect, select, table
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (fills the metadata)
from app.auth.models import LoginSession, RefreshToken
from app.core.database import build_engine, build_sqlalchemy_config
from app.core.migration_types import compare_column_types
from tests.conftest import DATABASE_PREFIX, _postgres_database, make_settings
from tests.migrations.steps import Revisions


@pytest.fixture
def empty_postgres(worker_id_suffix: str) -> str:
    return _postgres_database(f"{DATABASE_PREFIX}_migrations{worker_id_suffix}")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path, empty_postgres: str) -> str:
    return f"sqlite:///{tmp_path / 'migrated.sqlite3'}" if request.param == "sqlite" else empty_postgres


# SQLite cannot reflect the expression index behind PostgreSQL's full-text search, so alembic says it skips it.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index:UserWarning")
def test_upgrade_head_has_no_drift_and_downgrade_base_works(empty_database: str) -> None:
    settings = make_settings(empty_database)
    engine = build_engine(settings)
    commands = AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings, engine))
    try:
        commands.upgrade("head")
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": compare_column_types})
            assert compare_metadata(context, metadata_registry.get(None)) == []
        commands.check()
        commands.downgrade("base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        commands.upgrade("head")
        assert {"user_account", "refresh_token"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_each_revision_downgrades_to_the_schema_it_was_applied_to(empty_database: str) -> None:
    settings = make_settings(empty_database)
    engine = build_engine(settings)
    revisions = Revisions(settings, engine)
    try:
        for revision in revisions.order:
            up = revisions.upgrade(revision)
            down = revisions.downgrade(revision)
            differ = set(up.before.definitions) ^ set(down.after.definitions)
            assert down.after == up.before, f"{down} leaves {sorted({table for table, _ in differ})} unlike before"
            assert revisions.upgrade(revision).after == up.after, f"{revision} applied again differs"
    finally:
        engine.dispose()


def test_litestar_cli_upgrades_sqlite(tmp_path: Path, repo_root: Path) -> None:
    database = tmp_path / "cli.sqlite3"
    env = {
        **os.environ,
        "LITESTAR_APP": "app.manage:app",
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "cli-test-secret-key-with-at-least-32-bytes",
    }
    result = subprocess.run(
        [sys.executable, "-m", "litestar", "database", "upgrade", "--no-prompt"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    engine = build_engine(make_settings(f"sqlite:///{database}"))
    assert {"user_account", "refresh_token", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


LOGIN_SESSIONS_REVISION = "09934040a717"
BEFORE_LOGIN_SESSIONS = "a088390cc3f6"


def test_refresh_token_families_become_sessions_and_back(empty_database: str) -> None:
    """Tokens issued before sessions existed keep working: each family becomes its session, ended if revoked."""
    settings = make_settings(empty_database)
    engine = build_engine(settings)
    commands = AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings, engine))
    user_id, live_family, revoked_family = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    tokens = [
        (live_family, start, None, None),
        (live_family, start + timedelta(hours=1), None, start + timedelta(hours=1)),  # spent by the next
        (live_family, start + timedelta(hours=2), None, None),
        (revoked_family, start, start + timedelta(minutes=5), None),
    ]
    guid, when = GUID(), DateTimeUTC(timezone=True)
    users = table("user_account", column("id", guid), column("email", String), column("hashed_password", String),
                  column("is_active", Boolean), column("is_superuser", Boolean), column("is_verified", Boolean),
                  column("created_at", when), column("updated_at", when))  # fmt: skip
    refresh = table("refresh_token", column("id", guid), column("user_id", guid), column("family_id", guid),
                    column("token_hash", String), column("created_at", when), column("expires_at", when),
                    column("revoked_at", when), column("spent_at", when))  # fmt: skip
    try:
        commands.upgrade(BEFORE_LOGIN_SESSIONS)
        with engine.begin() as connection:
            connection.execute(users.insert().values(
                id=user_id, email="before@example.com", hashed_password="x", is_active=True, is_superuser=False,
                is_verified=True, created_at=start, updated_at=start,
            ))  # fmt: skip
            connection.execute(refresh.insert(), [
                {"id": uuid.uuid4(), "user_id": user_id, "family_id": family, "token_hash": f"{index:064d}",
                 "created_at": created, "expires_at": created + timedelta(days=30), "revoked_at": revoked,
                 "spent_at": spent}
                for index, (family, created, revoked, spent) in enumerate(tokens)
            ])  # fmt: skip
        commands.upgrade(LOGIN_SESSIONS_REVISION)
        with Session(engine) as session:
            sessions = {row.id: row for row in session.scalars(select(LoginSession))}
            assert set(sessions) == {live_family, revoked_family}
            live, revoked = sessions[live_family], sessions[revoked_family]
            assert (live.created_at, live.last_used_at) == (start, start + timedelta(hours=2))
            assert live.expires_at == start + timedelta(hours=2, days=30)
            assert (live.ended_at, revoked.ended_at) == (None, start + timedelta(minutes=5))
            assert live.user_id == revoked.user_id == user_id
            token_sessions = session.scalars(select(RefreshToken.session_id).order_by(RefreshToken.token_hash)).all()
            assert token_sessions == [family for family, *_ in tokens]
        commands.downgrade(BEFORE_LOGIN_SESSIONS)
        with engine.connect() as connection:
            families = connection.execute(select(refresh.c.family_id).order_by(refresh.c.token_hash)).scalars().all()
        assert families == [family for family, *_ in tokens]
        assert "login_session" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


BEFORE_ONE_SPELLING = "3a1a2544a348"


def test_stored_addresses_get_their_one_spelling_unless_another_account_has_it(empty_database: str) -> None:
    settings = make_settings(empty_database)
    engine = build_engine(settings)
    commands = AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings, engine))
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    when = DateTimeUTC(timezone=True)
    users = table("user_account", column("id", GUID()), column("email", String), column("hashed_password", String),
                  column("is_active", Boolean), column("is_superuser", Boolean), column("is_verified", Boolean),
                  column("created_at", when), column("updated_at", when))  # fmt: skip
    typed = [
        "\uff21\uff24\uff21@example.com",
        "grace@Bücher.example",
        "bob@example.com",
        "\uff42ob@example.com",
        "plain@example.com",
    ]
    try:
        commands.upgrade(BEFORE_ONE_SPELLING)
        with engine.begin() as connection:
            connection.execute(users.insert(), [
                {"id": uuid.uuid4(), "email": email, "hashed_password": "x", "is_active": True, "is_superuser": False,
                 "is_verified": True, "created_at": start, "updated_at": start}
                for email in typed
            ])  # fmt: skip
        commands.upgrade("head")
        with engine.connect() as connection:
            stored = set(connection.execute(select(users.c.email)).scalars())
        # The full-width bob would be bob: both stay as they were, for an operator to settle.
        assert stored == {"ada@example.com", "grace@xn--bcher-kva.example", *typed[2:]}
    finally:
        engine.dispose()


EMAIL_CHANGE_BY_LINK = "5c3e8d1f7a20"
BEFORE_EMAIL_CHANGE_BY_LINK = "2610728e6f85"


def test_recorded_email_changes_become_confirmed_ones_and_back(empty_database: str) -> None:
    settings = make_settings(empty_database)
    engine = build_engine(settings)
    commands = AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings, engine))
    events = table("security_event", column("id", GUID()), column("occurred_at", DateTimeUTC(timezone=True)),
                   column("kind", String), column("detail", JsonB))  # fmt: skip
    try:
        commands.upgrade(BEFORE_EMAIL_CHANGE_BY_LINK)
        with engine.begin() as connection:
            connection.execute(events.insert(), [
                {"id": uuid.uuid4(), "occurred_at": datetime.now(UTC), "kind": kind, "detail": {}}
                for kind in ("email_changed", "password_changed")
            ])  # fmt: skip
        commands.upgrade(EMAIL_CHANGE_BY_LINK)
        with engine.connect() as connection:
            assert sorted(connection.execute(select(events.c.kind)).scalars()) == [
                "email_change_confirmed",
                "password_changed",
            ]
        commands.downgrade(BEFORE_EMAIL_CHANGE_BY_LINK)
        with engine.connect() as connection:
            assert sorted(connection.execute(select(events.c.kind)).scalars()) == ["email_changed", "password_changed"]
    finally:
        engine.dispose()
