"""No email is lost: a dead broker, a dead or refusing mail server and duplicate tasks, each with real services."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import msgspec
import pytest
from celery import Celery
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.application import create_app
from app.core.settings import Settings
from app.core.task_queue import EMAILS_QUEUE, MAINTENANCE_QUEUE, RELAY_OUTBOX_TASK, SEND_EMAIL_TASK
from app.emails.models import EmailKind, EmailOutbox, EmailStatus
from app.emails.rendering import EmailComposer
from app.emails.service import OutboxService
from app.emails.transports import SMTPTransport
from tests.factories import API, unique_email
from tests.mail import SMTPServer, free_port

RunWorker = Callable[..., AbstractContextManager[Celery]]


def _rows(engine: Engine, recipient: str) -> list[EmailOutbox]:
    with Session(engine) as session:
        return list(session.scalars(select(EmailOutbox).where(EmailOutbox.recipient == recipient)))


def _wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _pending_row(
    engine: Engine, settings: Settings, kind: EmailKind, recipient: str, payload: dict[str, str]
) -> uuid.UUID:
    """An outbox row written straight through the service, committed, that no task has been asked to send."""
    with Session(engine) as session:
        row = OutboxService(session, settings).add(kind, recipient, user_id=None, payload=payload)
        session.commit()
        return row.id


def _register(client: TestClient[Litestar], email: str) -> None:
    response = client.post(f"{API}/auth/register", json={"email": email, "password": "long enough"})
    assert response.status_code == 201, response.text


def test_broker_down_at_registration_still_201_and_the_relay_delivers_every_email(
    settings: Settings, migrated: Engine, smtp_server: SMTPServer, run_worker: RunWorker
) -> None:
    dead_broker = msgspec.structs.replace(
        settings, redis_url=f"redis://127.0.0.1:{free_port()}/14", outbox_relay_after_seconds=0.5
    )
    emails = [unique_email("offline") for _ in range(3)]
    with TestClient(app=create_app(dead_broker)) as offline_client:
        started = time.monotonic()
        for email in emails:
            _register(offline_client, email)
        assert time.monotonic() - started < 3  # each failed publish gives up at once
    assert all(row.status == EmailStatus.PENDING for email in emails for row in _rows(migrated, email))

    with run_worker() as worker_app:  # the broker is back
        time.sleep(0.6)  # past OUTBOX_RELAY_AFTER_SECONDS
        worker_app.send_task(RELAY_OUTBOX_TASK, queue=MAINTENANCE_QUEUE)  # what beat does every interval
        for email in emails:
            smtp_server.wait_for_email(email, "welcome")
            smtp_server.wait_for_email(email, "verify")
        _wait_until(lambda: all(row.status == EmailStatus.SENT for e in emails for row in _rows(migrated, e)))
    assert len(smtp_server.mailbox.messages) == 2 * len(emails)  # 0 lost, none twice


def test_smtp_down_retries_with_backoff_and_delivers_when_it_returns(
    client: TestClient[Litestar], migrated: Engine, smtp_server: SMTPServer, worker: Celery
) -> None:
    smtp_server.stop()
    email = unique_email()
    _register(client, email)
    _wait_until(lambda: all(row.attempts >= 2 for row in _rows(migrated, email)))
    assert {row.status for row in _rows(migrated, email)} == {EmailStatus.PENDING}
    assert all("ConnectionRefusedError" in (row.last_error or "") for row in _rows(migrated, email))

    smtp_server.start()
    smtp_server.wait_for_email(email, "verify")
    smtp_server.wait_for_email(email, "welcome")
    _wait_until(lambda: all(row.status == EmailStatus.SENT for row in _rows(migrated, email)))
    assert all(row.attempts >= 3 and "token" not in row.payload for row in _rows(migrated, email))


def test_a_4xx_reply_is_retried(
    client: TestClient[Litestar], migrated: Engine, smtp_server: SMTPServer, worker: Celery
) -> None:
    smtp_server.mailbox.refusals.append("451 4.3.0 Try again later")
    email = unique_email()
    _register(client, email)
    smtp_server.wait_for_email(email, "welcome")
    smtp_server.wait_for_email(email, "verify")
    _wait_until(lambda: all(row.status == EmailStatus.SENT for row in _rows(migrated, email)))
    assert sorted(row.attempts for row in _rows(migrated, email)) == [1, 2]


def test_a_5xx_reply_fails_the_row_at_once_with_its_error(
    client: TestClient[Litestar], migrated: Engine, smtp_server: SMTPServer, worker: Celery
) -> None:
    smtp_server.mailbox.refusals.extend(["550 5.1.1 No such user"] * 2)
    email = unique_email()
    _register(client, email)
    _wait_until(lambda: all(row.status == EmailStatus.FAILED for row in _rows(migrated, email)))
    for row in _rows(migrated, email):
        assert row.attempts == 1
        assert "550" in (row.last_error or "")
    # A failed row keeps its one-time token, so a retry can still render its link (stripped once sent).
    (verify_row,) = [row for row in _rows(migrated, email) if row.kind == EmailKind.VERIFY_EMAIL]
    assert "token" in verify_row.payload


def test_the_last_transient_failure_fails_the_row(
    client: TestClient[Litestar], migrated: Engine, smtp_server: SMTPServer, run_worker: RunWorker
) -> None:
    smtp_server.stop()
    email = unique_email()
    with run_worker(email_max_attempts=2):
        _register(client, email)
        _wait_until(lambda: all(row.status == EmailStatus.FAILED for row in _rows(migrated, email)))
    for row in _rows(migrated, email):
        assert row.attempts == 2
        assert (row.last_error or "").startswith("gave up after 2 attempts: ConnectionRefusedError")


def test_a_row_that_cannot_render_fails_at_once_and_sends_nothing(
    settings: Settings, migrated: Engine, smtp_server: SMTPServer
) -> None:
    # A verification email without its token or expiry: the template needs both.
    outbox_id = _pending_row(migrated, settings, EmailKind.VERIFY_EMAIL, "broken@example.com", {"name": "Broken"})
    composer, transport = EmailComposer(settings), SMTPTransport(smtp_server.url, timeout=10)
    with Session(migrated) as session:
        outcome = OutboxService(session, settings).send(outbox_id, composer, transport)
    assert outcome.status == "failed"
    assert outcome.detail.startswith("could not render: UndefinedError(")
    (stored,) = _rows(migrated, "broken@example.com")
    assert (stored.status, stored.attempts, stored.last_error) == (EmailStatus.FAILED, 1, outcome.detail)
    assert smtp_server.mailbox.to("broken@example.com") == []


def test_a_send_task_run_twice_for_one_row_sends_one_email(
    client: TestClient[Litestar], migrated: Engine, smtp_server: SMTPServer, worker: Celery
) -> None:
    email = unique_email()
    _register(client, email)
    smtp_server.wait_for_email(email, "verify")
    (verify_row,) = [row for row in _rows(migrated, email) if row.kind == EmailKind.VERIFY_EMAIL]
    for _ in range(2):
        worker.send_task(SEND_EMAIL_TASK, args=[str(verify_row.id)], queue=EMAILS_QUEUE)
    # The solo worker takes the queue in order: once a later email is in, the duplicates have been handled.
    later = unique_email()
    _register(client, later)
    smtp_server.wait_for_email(later, "verify")
    assert len(smtp_server.mailbox.to(email, "verify")) == 1


# Row locks (FOR UPDATE SKIP LOCKED) exist on PostgreSQL only; SQLite is the development database.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_sends_of_one_row_send_it_once(
    settings: Settings, migrated: Engine, smtp_server: SMTPServer
) -> None:
    outbox_id = _pending_row(migrated, settings, EmailKind.WELCOME, "race@example.com", {"name": "Racer"})
    smtp_server.mailbox.delay = 1.0  # the first sender holds the row lock while the server dawdles
    composer, transport = EmailComposer(settings), SMTPTransport(smtp_server.url, timeout=10)
    outcomes: list[str] = []

    def send() -> None:
        with Session(migrated) as session:
            outcomes.append(OutboxService(session, settings).send(outbox_id, composer, transport).status)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(smtp_server.mailbox.to("race@example.com")) == 1
