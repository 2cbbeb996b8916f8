"""Fixtures: every HTTP test runs once on SQLite and once on PostgreSQL, each migrated with Alembic.

PostgreSQL is the real server on 127.0.0.1:5432 (``TEST_POSTGRES_URL`` overrides it). Without it the
PostgreSQL half is skipped on a developer machine and fails under ``CI=true``.

Worker tests run a real Celery worker (in a thread) on Redis database 14 (``TEST_REDIS_URL``), which they
flush, and deliver to a real SMTP server (aiosmtpd) on a free port. Without Redis they skip locally and fail
under ``CI=true``. So do the ops tests that run Debian's ``promtool`` and ``prometheus`` when these are missing, and
the test behind Debian's ``pgbouncer``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import psycopg
import pytest
import redis
from advanced_alchemy.alembic.commands import AlembicCommands
from celery import Celery
from celery.contrib.testing.worker import start_worker
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, text

from app.application import create_app
from app.core.database import build_engine, build_sqlalchemy_config
from app.core.settings import Settings, load_settings
from app.core.telemetry import Telemetry
from tests.factories import Accounts, Posts
from tests.mail import SMTPServer
from workers.celery_app import create_celery_app
from workers.context import WorkerContext

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE_PREFIX = os.environ.get("TEST_DATABASE_PREFIX", "inkwell_test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TABLES_CHILD_FIRST = (
    "email_outbox",
    "idempotency_key",
    "one_time_token",
    "post",
    "profile",
    "refresh_token",
    "login_session",
    "security_event",
    "sign_in_throttle",
    "maintenance_run",
    "user_account",
)
# Retries in seconds rather than minutes, so a test can watch a few of them.
FAST_RETRIES = {"email_retry_backoff_seconds": 0.2, "email_retry_backoff_max_seconds": 1.0}


def _unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(reason)


def _postgres_database(name: str) -> str:
    """(Re)create an empty database ``name`` and return its SQLAlchemy URL."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {exc}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def make_settings(database_url: str, **overrides: str) -> Settings:
    """Test settings: cheap argon2 so hashing doesn't dominate, a fixed key, no .env file."""
    environ = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-that-is-at-least-32-bytes-long",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "1024",
        "ARGON2_PARALLELISM": "1",
        # Every test registers from one client address; the limits have tests of their own.
        "RATE_LIMITS_ENABLED": "false",
        "REDIS_URL": REDIS_URL,
        "FORGOT_PASSWORD_MIN_SECONDS": "0.05",
        **overrides,
    }
    return load_settings(environ, env_file=None)


def migrate(database_url: str, **overrides: str) -> Settings:
    """Bring the database at ``database_url`` to Alembic's head, the way `litestar database upgrade` does, with the
    test settings (and ``overrides``, by variable name)."""
    settings = make_settings(database_url, **overrides)
    engine = build_engine(settings)
    AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings, engine)).upgrade("head")
    engine.dispose()
    return settings


def process_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """Environment for an Inkwell process (server, CLI) that a test starts: the test settings, as variables."""
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "ARGON2_MEMORY_COST_KIB": str(settings.argon2_memory_cost_kib),
        "ARGON2_PARALLELISM": str(settings.argon2_parallelism),
        "RATE_LIMITS_ENABLED": "false",
        "REDIS_URL": settings.redis_url or "",
        **overrides,
    }


def installed(command: str, package: str) -> str:
    """The path of ``command``, or the test skips (fails under ``CI=true``) naming the Debian ``package`` it needs.

    Daemons such as pgbouncer live in /usr/sbin, which a user's PATH may lack."""
    path = shutil.which(command) or shutil.which(command, path="/usr/sbin")
    if path is None:
        _unavailable(f"{command} is not installed (Debian: apt-get install {package})")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return installed("promtool", "prometheus")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Debian's ``prometheus`` (the server), for tests.prometheus.prometheus()."""
    return installed("prometheus", "prometheus")


@pytest.fixture(scope="session")
def pgbouncer_binary() -> str:
    """Debian's ``pgbouncer``, for tests.pgbouncer.pgbouncer()."""
    return installed("pgbouncer", "pgbouncer")


@pytest.fixture(scope="session")
def worker_id_suffix(worker_id: str) -> str:
    return "" if worker_id == "master" else f"_{worker_id}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id_suffix: str
) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'inkwell.sqlite3'}"
    return _postgres_database(f"{DATABASE_PREFIX}{worker_id_suffix}")


@pytest.fixture(scope="session")
def redis_url(redis_client: redis.Redis) -> str:
    """The tests' real Redis logical database (``TEST_REDIS_URL``), reachable or the test fails/skips."""
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_url(worker_id_suffix: str) -> str:
    """A migrated PostgreSQL database of its own, for tests that only make sense on a server database."""
    url = _postgres_database(f"{DATABASE_PREFIX}_pg{worker_id_suffix}")
    migrate(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Iterator[Engine]:
    """The database at Alembic's head revision, migrated the way `litestar database upgrade` does it."""
    engine = build_engine(settings)
    AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings, engine)).upgrade("head")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, migrated: Engine) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
def session_client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=app) as client:
        yield client


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES_CHILD_FIRST)} CASCADE"))
        else:
            for table in TABLES_CHILD_FIRST:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def empty_database(migrated: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after the test (whichever app wrote to it, in process or served)."""
    yield migrated
    _empty_tables(migrated)


@pytest.fixture
def client(session_client: TestClient[Litestar], empty_database: Engine) -> TestClient[Litestar]:
    """A client on a database emptied after each test."""
    return session_client


@pytest.fixture
def accounts(client: TestClient[Litestar], settings: Settings, migrated: Engine) -> Accounts:
    return Accounts(client, settings, migrated)


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture
def posts(client: TestClient[Litestar]) -> Posts:
    return Posts(client)


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        _unavailable(f"Redis is unreachable at {REDIS_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@contextmanager
def _running_worker(settings: Settings, telemetry: Telemetry | None) -> Iterator[Celery]:
    celery_app = create_celery_app(settings, telemetry)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield celery_app
    finally:
        context = WorkerContext.of(celery_app)
        if "engine" in vars(context):
            context.engine.dispose()


@pytest.fixture
def run_worker(
    settings: Settings, smtp_server: SMTPServer, redis_client: redis.Redis, migrated: Engine
) -> Callable[..., AbstractContextManager[Celery]]:
    """Start a real worker (in a thread) on the test database, Redis and SMTP server; ``overrides`` are settings,
    ``telemetry`` the worker's traces and error reports."""

    def run(telemetry: Telemetry | None = None, **overrides: Any) -> AbstractContextManager[Celery]:
        redis_client.flushdb()  # drop messages earlier tests published for rows that no longer exist
        worker_settings = msgspec.structs.replace(settings, smtp_url=smtp_server.url, **{**FAST_RETRIES, **overrides})
        return _running_worker(worker_settings, telemetry)

    return run


@pytest.fixture
def worker(run_worker: Callable[..., AbstractContextManager[Celery]]) -> Iterator[Celery]:
    with run_worker() as celery_app:
        yield celery_app
