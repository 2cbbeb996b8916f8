"""The Procfile behind PgBouncer in transaction mode, as Heroku's and most managed PostgreSQL offers run it.

Debian's PgBouncer pools the test database with one server connection: every client (two granian workers, the
worker's two pool processes, the superuser bootstrap, the test itself) takes turns on the same server session, so a
statement prepared by one client, or any session state, would show up in another's turn. Without ``DATABASE_POOLER``
the release step is refused; with ``DATABASE_POOLER=transaction`` it migrates, and a user's first session (register,
the emailed link, login, me, a post) and the cleanup task run through the pooler. The statement timeout still cancels a
statement that runs too long.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app.core.database import build_autocommit_engine, build_engine
from app.core.settings import Settings, load_settings
from tests.conftest import DATABASE_PREFIX, POSTGRES_ADMIN_URL, REDIS_URL, _postgres_database
from tests.mail import SMTPServer, token_in
from tests.pgbouncer import PgBouncer, pgbouncer
from tests.procfile import (
    ProcfileProcess,
    dyno_env,
    read_procfile,
    run_to_completion,
    stop_all,
    wait_for,
)
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.pgbouncer]

API = "/api/v1"
SUPERUSER = ("ops@example.com", "superuser-pass-pgbouncer")
PASSWORD = "pgbouncer-secret-password-7"
STATEMENT_TIMEOUT_MS = 2000
# psycopg prepares a statement on its fifth run: every client runs its statements more often than that.
REPEATS = 12


@pytest.fixture
def database(worker_id_suffix: str) -> str:
    name = f"{DATABASE_PREFIX}_pgbouncer{worker_id_suffix}"
    _postgres_database(name)
    return name


@pytest.fixture
def bouncer(pgbouncer_binary: str, database: str) -> Iterator[PgBouncer]:
    with pgbouncer(pgbouncer_binary, POSTGRES_ADMIN_URL, database, pool_size=1) as server:
        yield server


@pytest.fixture
def platform(
    bouncer: PgBouncer, database: str, redis_client: redis.Redis, smtp_server: SMTPServer, tmp_path: Path
) -> dict[str, str]:
    redis_client.flushdb()
    return dyno_env(
        PORT=str(free_port()),
        DATABASE_URL=bouncer.url(database).replace("postgresql://", "postgres://", 1),  # Heroku's form
        DATABASE_POOLER="transaction",
        DATABASE_STATEMENT_TIMEOUT_MS=str(STATEMENT_TIMEOUT_MS),
        REDIS_URL=REDIS_URL,
        SECRET_KEY="pgbouncer-" + "k" * 40,
        SMTP_URL=smtp_server.url,
        FIRST_SUPERUSER_EMAIL=SUPERUSER[0],
        FIRST_SUPERUSER_PASSWORD=SUPERUSER[1],
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        OUTBOX_RELAY_INTERVAL_SECONDS="2",
        TOKEN_CLEANUP_INTERVAL_SECONDS="2",
        # Celery waits out the whole soft shutdown when a task was running at SIGTERM (here beat sends one every 2 s).
        WORKER_SOFT_SHUTDOWN_SECONDS="2",
    )


def test_the_procfile_serves_a_first_session_through_pgbouncer_in_transaction_mode(
    platform: dict[str, str], bouncer: PgBouncer, database: str, smtp_server: SMTPServer, tmp_path: Path
) -> None:
    commands = read_procfile()
    _release_without_the_setting_is_refused(commands["release"], platform, tmp_path)
    release_output = run_to_completion("release", commands["release"], platform, tmp_path)
    assert "upgrade" in release_output.lower(), release_output

    processes = [ProcfileProcess(name, commands[name], platform, tmp_path) for name in ("web", "worker", "beat")]
    web, worker, _ = processes
    exit_codes: dict[str, int | None] = {}
    settings = load_settings(platform, env_file=None)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{platform['PORT']}", timeout=10) as client:
            wait_for(lambda: client.get("/health").status_code == 200, "web answers")
            _first_session(client, smtp_server)
            _cleanup_runs(client, worker)
        _statements_are_never_prepared_on_the_server(settings)
        _statement_timeout_cancels_a_long_statement(settings)
        # On the session the release step ran on, as on those PostgreSQL starts later (the role's default).
        bouncer.admin("RECONNECT")
        _statement_timeout_cancels_a_long_statement(settings)
        exit_codes = stop_all(processes)
    except BaseException:
        stop_all(processes)
        for process in processes:
            print(f"----- {process.name} -----\n{process.output}")  # noqa: T201  (shown by pytest on failure)
        print(f"----- pgbouncer -----\n{bouncer.log_text()}")  # noqa: T201
        raise

    assert exit_codes == {"web": 0, "worker": 0, "beat": 0}, "\n".join(p.output for p in processes)
    servers = [row for row in bouncer.admin("SHOW SERVERS") if row["database"] == database]
    assert len(servers) <= 1, servers  # every client took turns on one server session
    logs = "\n".join([*(process.output for process in processes), bouncer.log_text()])
    assert "prepared statement" not in logs
    assert "Traceback" not in web.output + worker.output


def _release_without_the_setting_is_refused(command: str, platform: dict[str, str], cwd: Path) -> None:
    """What a new user meets: the start-up option that sets the timeout on a direct connection is refused."""
    release = ProcfileProcess("release", command, {**platform, "DATABASE_POOLER": "none"}, cwd)
    try:
        assert release.wait(timeout=120) != 0
    finally:
        stop_all([release])
    assert "unsupported startup parameter: options" in release.output, release.output


def _first_session(client: httpx.Client, smtp_server: SMTPServer) -> None:
    """Register, follow the emailed link, log in, read me (over new connections, so both web processes serve it),
    write a post and list it."""
    email = "pooled-reader@example.com"
    registered = client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text

    verification = smtp_server.wait_for_email(email, "verify", timeout=60)
    verified = client.post(f"{API}/auth/verify-email", json={"token": token_in(verification)})
    assert (verified.status_code, verified.json()["is_verified"]) == (200, True)

    login = client.post(f"{API}/auth/login", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for _ in range(REPEATS):
        me = httpx.get(f"{client.base_url}{API}/users/me", headers=headers, timeout=10)
        assert (me.status_code, me.json()["email"]) == (200, email), me.text
    post = client.post(
        f"{API}/posts", headers=headers, json={"title": "Pooled", "content": "Through PgBouncer.", "is_published": True}
    )
    assert post.status_code == 201, post.text
    for _ in range(REPEATS):
        listed = httpx.get(f"{client.base_url}{API}/posts", timeout=10)
        assert listed.status_code == 200, listed.text
    assert [item["title"] for item in listed.json()["items"]] == ["Pooled"]
    smtp_server.wait_for_email(email, "welcome", timeout=60)


def _cleanup_runs(client: httpx.Client, worker: ProcfileProcess) -> None:
    """Beat's cleanup (and outbox relay) runs on the worker through the pooler, as the superuser's report shows."""
    login = client.post(f"{API}/auth/login", data={"username": SUPERUSER[0], "password": SUPERUSER[1]})
    assert login.status_code == 200, login.text
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}

    def recorded() -> dict[str, object] | None:
        response = client.get(f"{API}/ops/queues", headers=admin)
        assert response.status_code == 200, response.text
        report = response.json()
        ran = all(report["jobs"][job]["finished_at"] is not None for job in ("token_cleanup", "outbox_relay"))
        return report if ran and report["outbox"]["pending"] == 0 else None

    report = wait_for(recorded, "a token cleanup and an outbox relay recorded, no email pending")
    assert report["outbox"] == {**report["outbox"], "sent": 2, "failed": 0}
    worker.wait_for_line("token cleanup deleted")


@contextmanager
def _engines(settings: Settings) -> Iterator[tuple[Engine, Engine]]:
    """The app's two PostgreSQL engines: transactions, and autocommit reads."""
    engine = build_engine(settings)
    reads = build_autocommit_engine(settings, engine)
    try:
        yield engine, reads
    finally:
        reads.dispose()
        engine.dispose()


def _statements_are_never_prepared_on_the_server(settings: Settings) -> None:
    """Two clients run the same statement in turns on the one server session: with psycopg's default (prepare on the
    fifth run, each client naming its first statement ``_pg3_0``) the second one to prepare would fail."""
    with _engines(settings) as engines:
        for engine in engines:
            with engine.connect() as first, engine.connect() as second:
                for round_ in range(REPEATS):
                    for connection in (first, second):
                        value = connection.execute(text("SELECT CAST(:n AS integer)"), {"n": round_}).scalar_one()
                        assert value == round_
                        connection.commit()


def _statement_timeout_cancels_a_long_statement(settings: Settings) -> None:
    """A statement that sleeps past ``DATABASE_STATEMENT_TIMEOUT_MS`` is cancelled, in a transaction and in
    autocommit alike."""
    with _engines(settings) as engines:
        for engine in engines:
            with engine.connect() as connection:
                timeout = connection.exec_driver_sql("SHOW statement_timeout").scalar_one()
                assert timeout == f"{STATEMENT_TIMEOUT_MS // 1000}s"
                started = time.monotonic()
                with pytest.raises(OperationalError, match="canceling statement due to statement timeout"):
                    connection.exec_driver_sql("SELECT pg_sleep(30)")
                assert time.monotonic() - started < 10
