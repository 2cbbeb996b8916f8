"""The engine's pooled connections, on the real databases."""

from __future__ import annotations

import os
import socket

import psycopg
import pytest
from sqlalchemy import Engine, text

from app.core import database
from app.core.database import build_autocommit_engine, build_engine
from app.core.settings import Settings
from tests.conftest import DATABASE_PREFIX, _postgres_database, make_settings, migrate

STATEMENT_TIMEOUT = {"DATABASE_STATEMENT_TIMEOUT_MS": "1234"}


def test_a_connection_pinged_after_idling_is_handed_out_outside_any_transaction(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The idle ping runs a query; a connection it leaves mid-transaction cannot be switched to autocommit
    (PostgreSQL) and would carry the ping's snapshot into the next request."""
    monkeypatch.setattr(database, "IDLE_BEFORE_PING_SECONDS", 0.0)  # every checkout pings
    engine: Engine = build_engine(settings)
    autocommit_engine = build_autocommit_engine(settings, engine)
    try:
        for _ in range(3):
            with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
                assert connection.execute(text("SELECT 0")).scalar_one() == 0
            with autocommit_engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 2")).scalar_one() == 2
    finally:
        autocommit_engine.dispose()
        engine.dispose()


@pytest.fixture
def new_postgres_database(worker_id_suffix: str) -> str:
    return _postgres_database(f"{DATABASE_PREFIX}_timeout{worker_id_suffix}")


def _statement_timeout(url: str) -> str:
    """``statement_timeout`` in a new session that sets nothing itself: the role's and database's defaults."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        row = conn.execute("SHOW statement_timeout").fetchone()
    assert row is not None
    return str(row[0])


def _engine_statement_timeouts(settings: Settings) -> set[str]:
    engine = build_engine(settings)
    autocommit_engine = build_autocommit_engine(settings, engine)
    try:
        timeouts = set()
        for target in (engine, autocommit_engine):
            with target.connect() as connection:
                timeouts.add(connection.exec_driver_sql("SHOW statement_timeout").scalar_one())
        return timeouts
    finally:
        autocommit_engine.dispose()
        engine.dispose()


def test_direct_connections_set_the_statement_timeout_as_they_start(new_postgres_database: str) -> None:
    settings = migrate(new_postgres_database, **STATEMENT_TIMEOUT)
    assert _engine_statement_timeouts(settings) == {"1234ms"}
    # The release step leaves the role's defaults alone (other sessions, a long maintenance one, keep theirs).
    assert _statement_timeout(new_postgres_database) == "0"


def test_behind_a_transaction_pooler_the_release_step_makes_the_timeout_the_roles_default(
    new_postgres_database: str,
) -> None:
    """Nothing is sent at start-up (a pooler would refuse it): every session of the role in this database starts with
    the timeout instead. tests/e2e/test_pgbouncer.py shows it through a real PgBouncer."""
    settings = migrate(new_postgres_database, DATABASE_POOLER="transaction", **STATEMENT_TIMEOUT)
    assert _statement_timeout(new_postgres_database) == "1234ms"
    assert _engine_statement_timeouts(settings) == {"1234ms"}


def test_a_connection_gives_up_on_unacknowledged_data_within_the_connect_timeout(postgres_url: str) -> None:
    """A database cut off silently (no reset, no refusal) fails a request on a pooled connection as fast as a new
    connection would fail: the socket's TCP_USER_TIMEOUT is the connect timeout. tests/cluster shows the 503 it gives
    across a real partition."""
    engine = build_engine(make_settings(postgres_url, DATABASE_CONNECT_TIMEOUT_SECONDS="3"))
    try:
        with engine.connect() as connection:
            descriptor = connection.connection.dbapi_connection.pgconn.socket  # type: ignore[union-attr]
            with socket.socket(fileno=os.dup(descriptor)) as sock:
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 3000
    finally:
        engine.dispose()
