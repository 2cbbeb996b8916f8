"""The SQLAlchemy engines and advanced-alchemy's sync configuration: every process (the API, the CLIs, the workers)
builds its engine and sessions with :func:`build_sqlalchemy_config`.

Only advanced-alchemy's framework-free parts: its Litestar extension imports Alembic and the CLI at import time,
which only ``app.manage`` needs (it passes the extension's class in).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from advanced_alchemy.config import AlembicSyncConfig, SQLAlchemySyncConfig, SyncSessionConfig
from litestar import Request
from litestar.di import Provide
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

    from app.core.settings import Settings

__all__ = (
    "build_autocommit_engine",
    "build_engine",
    "build_read_config",
    "build_sqlalchemy_config",
    "record_statement_timeout",
    "request_session_provider",
)

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def _enable_sqlite_pragmas(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    # SQLite leaves foreign keys off per connection; WAL lets readers run beside the one writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    in_memory = url.database in (None, "", ":memory:")
    pool_arguments: dict[str, Any]
    if in_memory:
        # One shared connection: with a per-thread pool each request thread would see its own empty database.
        pool_arguments = {"poolclass": StaticPool}
    else:
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        pool_arguments = {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
            "pool_timeout": settings.database_pool_timeout_seconds,
            "pool_pre_ping": True,
        }
    engine = create_engine(
        url, echo=settings.database_echo, connect_args={"check_same_thread": False, "timeout": 5}, **pool_arguments
    )
    event.listen(engine, "connect", _enable_sqlite_pragmas)
    return engine


IDLE_BEFORE_PING_SECONDS = 10.0


def _ping_connections_left_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle a while: the usual pre-ping costs a round trip
    on every checkout, yet a connection that served a request moments ago is alive. A dead one found later still
    invalidates the whole pool, so the app recovers from a database restart without being restarted."""

    @event.listens_for(engine, "checkin")
    def remember_last_use(_: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _: object) -> None:
        if time.monotonic() - record.info.get("last_used", 0.0) < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            # The ping opened a transaction: end it, or the connection is handed out mid-transaction (and cannot
            # be switched to autocommit).
            dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError(str(exc)) from exc


# Behind a transaction pooler the engine carries its statement timeout here, for the release step to record.
ROLE_STATEMENT_TIMEOUT_OPTION = "inkwell_role_statement_timeout_ms"


def _postgres_engine(settings: Settings, **engine_arguments: Any) -> Engine:
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.database_connect_timeout_seconds,
        "application_name": settings.project_name.lower(),
        # A peer that vanished without closing (network partition) is noticed in seconds, not hours: an idle
        # connection by its keepalives; one a request sends on by what it sent going unacknowledged. A healthy
        # server's TCP acknowledges at once however busy it is, so this waits no longer than a connection attempt
        # may: the request answers 503 within the outage bound instead of hanging on a pooled connection.
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": settings.database_connect_timeout_seconds * 1000,
    }
    execution_options: dict[str, Any] = {}
    if settings.behind_transaction_pooler:
        # The pooler lends each transaction whichever server session is free: a statement psycopg prepared (after
        # five runs) on one session is missing on the next, or clashes with another client's of the same name.
        connect_args["prepare_threshold"] = None
        # It also refuses the start-up option below; the timeout is the role's default instead (see
        # record_statement_timeout).
        execution_options[ROLE_STATEMENT_TIMEOUT_OPTION] = settings.database_statement_timeout_ms
    else:
        # Set as the session starts: no statement of its own.
        connect_args["options"] = f"-c statement_timeout={settings.database_statement_timeout_ms}"
    engine = create_engine(
        settings.database_url,
        echo=settings.database_echo,
        connect_args=connect_args,
        execution_options=execution_options,
        pool_timeout=settings.database_pool_timeout_seconds,
        **(
            {"pool_size": settings.database_pool_size, "max_overflow": settings.database_max_overflow}
            | engine_arguments
        ),
    )
    _ping_connections_left_idle(engine)
    return engine


def record_statement_timeout(connection: Connection) -> None:
    """Behind a transaction pooler, make the engine's statement timeout its role's default in this database.

    The release step runs it (``migrations/env.py``), in the migrations' transaction. PostgreSQL applies a role's
    default to every session it starts for the role, whichever client the pooler lends that session to; a ``SET``
    would last one transaction, or leak into another client's. Sessions already open keep the value they started with,
    but for the release's own. Without a pooler it does nothing: each connection sets the timeout as it starts.
    """
    timeout_ms = connection.get_execution_options().get(ROLE_STATEMENT_TIMEOUT_OPTION)
    if timeout_ms is None:
        return
    database = connection.exec_driver_sql("SELECT current_database()").scalar_one()
    quoted = connection.dialect.identifier_preparer.quote(database)
    connection.exec_driver_sql(f"ALTER ROLE CURRENT_USER IN DATABASE {quoted} SET statement_timeout = {timeout_ms:d}")
    # The session the release runs on started before that default (on a first release, with none), and the pooler
    # lends it to the app next. Set for the whole session, the value leaks nothing: every later session has it too.
    connection.exec_driver_sql(f"SET SESSION statement_timeout = {timeout_ms:d}")


def build_engine(settings: Settings) -> Engine:
    """Create the engine for the configured database; nothing connects until first use."""
    return _sqlite_engine(settings) if settings.is_sqlite else _postgres_engine(settings)


def build_autocommit_engine(settings: Settings, engine: Engine) -> Engine:
    """The engine for work that is single statements, each its own transaction: the bearer's account and every
    other read.

    On PostgreSQL it is a pool of its own whose connections stay in autocommit: no BEGIN or ROLLBACK round trip
    and no switching a shared connection in and out of autocommit on every checkout. Only handler threads use it,
    one connection each, so ``WEB_THREADS`` connections suffice.
    SQLite shares ``engine``'s connections (an in-memory database lives in its one connection).
    """
    if settings.is_sqlite:
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return _postgres_engine(settings, isolation_level="AUTOCOMMIT", pool_size=settings.web_threads, max_overflow=0)


def _session_config() -> SyncSessionConfig:
    # Objects stay readable after the commit that wrote them: services commit explicitly, then return what they wrote.
    return SyncSessionConfig(expire_on_commit=False)


def _alembic_config() -> AlembicSyncConfig:
    return AlembicSyncConfig(
        script_location=str(MIGRATIONS_DIR),
        script_config=str(MIGRATIONS_DIR / "alembic.ini"),
        version_table_name="alembic_version",
        compare_type=True,
        render_as_batch=True,
    )


ConfigT = TypeVar("ConfigT", bound=SQLAlchemySyncConfig)


@overload
def build_sqlalchemy_config(settings: Settings, engine: Engine | None = None) -> SQLAlchemySyncConfig: ...


@overload
def build_sqlalchemy_config(
    settings: Settings, engine: Engine | None = None, *, config_class: type[ConfigT]
) -> ConfigT: ...


def build_sqlalchemy_config(
    settings: Settings,
    engine: Engine | None = None,
    *,
    config_class: type[SQLAlchemySyncConfig] = SQLAlchemySyncConfig,
) -> SQLAlchemySyncConfig:
    """The database configuration of every process: its engine, the sessions on it and Alembic for the migration
    commands.

    Args:
        settings: the configured database and its pool.
        engine: an engine already built from ``settings``; default: a new one (nothing connects until first use).
        config_class: the configuration class; the Litestar CLI's plugin needs its extension's subclass.

    Returns:
        The configuration; its ``get_engine()`` is the engine, its ``get_session()`` a session that leaves what it
        wrote readable after the commit.
    """
    return config_class(
        engine_instance=engine or build_engine(settings),
        session_config=_session_config(),
        alembic_config=_alembic_config(),
    )


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def build_read_config(settings: Settings, engine: Engine) -> SQLAlchemySyncConfig:
    """Sessions on the autocommit engine, for work that is single statements (reads): each statement is
    its own transaction, so there is no BEGIN or ROLLBACK round trip and no transaction held open between them."""
    return build_sqlalchemy_config(settings, build_autocommit_engine(settings, engine))


def request_session_provider(config: SQLAlchemySyncConfig, read_config: SQLAlchemySyncConfig) -> Provide:
    """The ``db_session`` dependency: one session per request, closed once the handler's response is built.

    A safe method changes nothing that needs a transaction, so its session is one of ``read_config``'s; every other
    request gets a transaction of ``config``'s, which its service commits itself, so a failed commit is the handler's
    exception rather than something discovered after a 2xx went out.

    The provider is a coroutine generator so that the session is opened (no I/O) and closed on the event loop.
    Litestar finishes a plain generator on a handler thread: with every handler thread waiting for a pooled
    connection, the connections of finished requests would not come back until the pool timed out.
    """

    async def provide_db_session(request: Request[Any, Any, Any]) -> AsyncIterator[Session]:
        with (read_config if request.method in SAFE_METHODS else config).get_session() as session:
            yield session

    return Provide(provide_db_session)
