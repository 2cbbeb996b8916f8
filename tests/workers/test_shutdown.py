"""The Procfile's worker stopped mid-send: by SIGTERM (as Heroku stops a dyno) and by SIGKILL. No email is lost.

Each test runs the real ``worker`` line of the Procfile in a subprocess (one pool process) against PostgreSQL,
Redis and an SMTP server that takes its time to accept a message, so a send is in progress when the signal lands.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.core.database import build_engine
from app.core.settings import Settings
from app.core.task_queue import CeleryTaskQueue
from app.emails.models import EmailKind, EmailOutbox, EmailStatus
from app.emails.service import OutboxService
from tests.conftest import REDIS_URL, make_settings
from tests.mail import SMTPServer
from tests.procfile import HEROKU_STOP_SECONDS, ProcfileProcess, platform_env, read_procfile, stop_all

StartWorker = Callable[..., ProcfileProcess]


@pytest.fixture
def settings(postgres_url: str) -> Settings:
    return make_settings(postgres_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = build_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def start_worker(
    settings: Settings, smtp_server: SMTPServer, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[StartWorker]:
    redis_client.flushdb()
    started: list[ProcfileProcess] = []

    def start(**variables: str) -> ProcfileProcess:
        env = platform_env(
            APP_ENV="test",
            DATABASE_URL=settings.database_url,
            SECRET_KEY=settings.secret_key,
            REDIS_URL=REDIS_URL,
            SMTP_URL=smtp_server.url,
            WORKER_CONCURRENCY="1",
            **variables,
        )
        process = ProcfileProcess(f"worker{len(started) + 1}", read_procfile()["worker"], env, tmp_path)
        started.append(process)
        return process

    yield start
    stop_all(started)


def _queue_email(settings: Settings, engine: Engine) -> uuid.UUID:
    """Write an outbox row and publish its task, as the API does after a registration."""
    with Session(engine) as session:
        row = OutboxService(session, settings).add(
            EmailKind.WELCOME, f"shutdown-{uuid.uuid4().hex[:8]}@example.com", user_id=None, payload={"name": "Sam"}
        )
        session.commit()
        outbox_id: uuid.UUID = row.id
    assert CeleryTaskQueue(settings).enqueue_email(outbox_id)
    return outbox_id


def _row(engine: Engine, outbox_id: uuid.UUID) -> EmailOutbox:
    with Session(engine) as session:
        row = session.get(EmailOutbox, outbox_id)
        assert row is not None
        return row


def _wait_until_sent(engine: Engine, outbox_id: uuid.UUID, timeout: float = 30) -> EmailOutbox:
    deadline = time.monotonic() + timeout
    while (row := _row(engine, outbox_id)).status != EmailStatus.SENT:
        assert time.monotonic() < deadline, f"row still {row.status} after {timeout} s"
        time.sleep(0.1)
    return row


def _sigterm(process: ProcfileProcess) -> tuple[int, float]:
    started = time.monotonic()
    process.signal_group(signal.SIGTERM)  # every process of the dyno, pool processes included
    exit_code = process.wait(HEROKU_STOP_SECONDS)
    return exit_code, time.monotonic() - started


def test_sigterm_lets_a_send_in_progress_finish_within_30_seconds(
    settings: Settings, engine: Engine, smtp_server: SMTPServer, start_worker: StartWorker
) -> None:
    smtp_server.mailbox.delay = 3  # the send is still going when SIGTERM arrives
    outbox_id = _queue_email(settings, engine)
    worker = start_worker()  # the default soft shutdown: 20 s
    smtp_server.mailbox.wait_for_data()

    exit_code, elapsed = _sigterm(worker)

    assert exit_code == 0, worker.output
    assert elapsed < HEROKU_STOP_SECONDS, worker.output
    assert _row(engine, outbox_id).status == EmailStatus.SENT
    assert len(smtp_server.mailbox.messages) == 1


def test_sigterm_requeues_a_send_that_outlasts_the_soft_shutdown_and_the_next_worker_sends_it(
    settings: Settings, engine: Engine, smtp_server: SMTPServer, start_worker: StartWorker
) -> None:
    smtp_server.mailbox.delay = 10  # longer than the soft shutdown below
    outbox_id = _queue_email(settings, engine)
    worker = start_worker(WORKER_SOFT_SHUTDOWN_SECONDS="1")
    smtp_server.mailbox.wait_for_data()

    exit_code, elapsed = _sigterm(worker)

    assert elapsed < HEROKU_STOP_SECONDS, worker.output
    assert exit_code == 0, worker.output
    row = _row(engine, outbox_id)
    assert (row.status, row.attempts) == (EmailStatus.PENDING, 0)  # the interrupted attempt was rolled back
    assert smtp_server.mailbox.messages == []

    smtp_server.mailbox.delay = 0
    start_worker()  # the next dyno: the requeued task is waiting for it
    _wait_until_sent(engine, outbox_id)
    assert len(smtp_server.mailbox.messages) == 1


def test_a_worker_killed_mid_send_leaves_the_task_to_the_next_worker(
    settings: Settings, engine: Engine, smtp_server: SMTPServer, start_worker: StartWorker
) -> None:
    smtp_server.mailbox.delay = 10
    outbox_id = _queue_email(settings, engine)
    # Redis hands an unacknowledged task to another worker after the visibility timeout: 2 s here, not hours.
    short_visibility = {"BROKER_VISIBILITY_TIMEOUT_SECONDS": "2"}
    worker = start_worker(**short_visibility)
    smtp_server.mailbox.wait_for_data()

    worker.signal_group(signal.SIGKILL)  # OOM killer, lost host: no shutdown at all
    worker.wait(10)
    assert _row(engine, outbox_id).status == EmailStatus.PENDING
    smtp_server.mailbox.delay = 0

    started = time.monotonic()
    start_worker(**short_visibility)
    row = _wait_until_sent(engine, outbox_id, timeout=45)
    assert row.attempts == 1
    assert len(smtp_server.mailbox.messages) == 1  # the killed attempt's message was never accepted
    assert time.monotonic() - started < 45
