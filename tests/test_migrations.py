"""Alembic migrations: head on an empty PostgreSQL database matches the models exactly, and downgrades cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from advanced_alchemy.alembic.commands import AlembicCommands
from advanced_alchemy.base import metadata_registry
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import app.models  # noqa: F401  (fills the metadata)
from app.core.database import build_engine, build_sqlalchemy_config
from tests.conftest import DATABASE_PREFIX, _postgres_database, make_settings


@pytest.fixture
def empty_postgres(worker_id_suffix: str) -> str:
    return _postgres_database(f"{DATABASE_PREFIX}_migrations{worker_id_suffix}")


def test_upgrade_head_has_no_drift_and_downgrade_base_works(empty_postgres: str) -> None:
    settings = make_settings(empty_postgres)
    engine = build_engine(settings)
    commands = AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings, engine))
    try:
        commands.upgrade("head")
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata_registry.get(None)) == []
        commands.check()
        commands.downgrade("base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        commands.upgrade("head")
        assert {"user_account", "refresh_token"} <= set(inspect(engine).get_table_names())
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
