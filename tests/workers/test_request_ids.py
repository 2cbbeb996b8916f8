"""One request id from the HTTP request to the worker's log lines: on the outbox row, the message and the task."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import msgspec
import pytest
from celery import Celery
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.application import create_app
from app.core.request_context import current_request_id
from app.core.settings import Settings
from app.core.task_queue import MAINTENANCE_QUEUE, RELAY_OUTBOX_TASK
from app.emails.models import EmailOutbox, EmailStatus
from tests.factories import API, unique_email
from tests.mail import SMTPServer, free_port

RunWorker = Callable[..., AbstractContextManager[Celery]]


class _TaskLog(logging.Handler):
    """What the tasks log, with the request id current in the worker at that moment."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.getMessage(), current_request_id()))


@pytest.fixture
def task_log(caplog: pytest.LogCaptureFixture) -> Iterator[_TaskLog]:
    handler = _TaskLog()
    logger = logging.getLogger("workers.tasks")
    logger.addHandler(handler)
    with caplog.at_level(logging.INFO, logger="workers.tasks"):
        yield handler
    logger.removeHandler(handler)


def _sent_under(task_log: _TaskLog, request_id: str, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while len([line for line in task_log.lines if line[1] == request_id and line[0].endswith(" sent")]) < count:
        assert time.monotonic() < deadline, task_log.lines
        time.sleep(0.05)


def _rows(engine: Engine, recipient: str) -> list[EmailOutbox]:
    with Session(engine) as session:
        return list(session.scalars(select(EmailOutbox).where(EmailOutbox.recipient == recipient)))


def test_the_worker_logs_each_send_under_the_request_that_caused_it(
    client: TestClient[Litestar], migrated: Engine, smtp_server: SMTPServer, worker: Celery, task_log: _TaskLog
) -> None:
    email = unique_email("traced")
    response = client.post(
        f"{API}/auth/register", json={"email": email, "password": "long enough"}, headers={"X-Request-ID": "reg-1"}
    )
    assert response.status_code == 201
    smtp_server.wait_for_email(email, "verify")
    _sent_under(task_log, "reg-1", count=2)
    assert {row.request_id for row in _rows(migrated, email)} == {"reg-1"}
    assert current_request_id() is None  # nothing leaks out of the task


@pytest.mark.usefixtures("client")  # empties the tables afterwards
def test_the_relay_keeps_the_request_id_of_emails_the_broker_missed(
    settings: Settings, migrated: Engine, smtp_server: SMTPServer, run_worker: RunWorker, task_log: _TaskLog
) -> None:
    dead_broker = msgspec.structs.replace(
        settings, redis_url=f"redis://127.0.0.1:{free_port()}/14", outbox_relay_after_seconds=0.1
    )
    email = unique_email("relayed")
    with TestClient(app=create_app(dead_broker)) as offline_client:
        response = offline_client.post(
            f"{API}/auth/register", json={"email": email, "password": "long enough"}, headers={"X-Request-ID": "reg-2"}
        )
        assert response.status_code == 201
    with run_worker() as worker_app:
        time.sleep(0.2)
        worker_app.send_task(RELAY_OUTBOX_TASK, queue=MAINTENANCE_QUEUE)
        _sent_under(task_log, "reg-2", count=2)
    assert {row.status for row in _rows(migrated, email)} == {EmailStatus.SENT}
