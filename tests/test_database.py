"""The engine's pooled connections, on the real databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from app.core import database
from app.core.database import build_autocommit_engine, build_engine
from app.core.settings import Settings


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
