"""The outbox relay records each run in ``maintenance_run`` (job ``outbox_relay``) with the number it relayed."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.core.task_queue import MAINTENANCE_QUEUE, RELAY_OUTBOX_TASK
from app.emails.models import EmailKind, EmailOutbox, EmailStatus
from app.emails.service import QueuedEmail
from app.maintenance.models import MaintenanceRun
from app.maintenance.service import RELAY_JOB, OutboxRelayService
from tests.mail import SMTPServer


def _outbox_row(engine: Engine, name: str, next_attempt_in: timedelta) -> uuid.UUID:
    with Session(engine) as session:
        row = EmailOutbox(
            kind=EmailKind.WELCOME, recipient=f"{name}-{uuid.uuid4().hex[:8]}@example.com", payload={"name": name},
            status=EmailStatus.PENDING, attempts=0, next_attempt_at=datetime.now(UTC) + next_attempt_in,
        )  # fmt: skip
        session.add(row)
        session.commit()
        return row.id


def _relay_runs(engine: Engine) -> list[MaintenanceRun]:
    with Session(engine) as session:
        return list(session.scalars(select(MaintenanceRun).where(MaintenanceRun.job == RELAY_JOB)))


@pytest.mark.usefixtures("client")  # empties the tables afterwards
def test_each_relay_run_replaces_the_record_with_its_count(settings: Settings, migrated: Engine) -> None:
    due = {_outbox_row(migrated, "due", -timedelta(seconds=1)) for _ in range(2)}
    _outbox_row(migrated, "later", timedelta(hours=1))
    enqueued: list[QueuedEmail] = []

    before = datetime.now(UTC)
    with Session(migrated) as session:
        assert OutboxRelayService(session, settings).run(enqueued.append) == 2
    assert {email.id for email in enqueued} == due
    [first] = _relay_runs(migrated)
    assert first.counts == {"relayed": 2}
    assert before <= first.started_at <= first.finished_at <= datetime.now(UTC)

    with Session(migrated) as session:  # the two rows were pushed ahead: nothing is due now
        assert OutboxRelayService(session, settings).run(enqueued.append) == 0
    [second] = _relay_runs(migrated)  # still one row per job
    assert second.counts == {"relayed": 0}
    assert second.started_at >= first.finished_at
    assert len(enqueued) == 2


@pytest.mark.usefixtures("client")
def test_a_run_that_could_not_enqueue_is_not_recorded(settings: Settings, migrated: Engine) -> None:
    _outbox_row(migrated, "due", -timedelta(seconds=1))

    def broker_down(email: QueuedEmail) -> None:
        raise ConnectionError("broker down")

    with Session(migrated) as session, pytest.raises(ConnectionError):
        OutboxRelayService(session, settings).run(broker_down)
    assert _relay_runs(migrated) == []


@pytest.mark.usefixtures("client")
def test_the_beat_task_relays_on_a_worker_and_records_its_run(
    migrated: Engine, smtp_server: SMTPServer, worker: Celery
) -> None:
    outbox_id = _outbox_row(migrated, "stranded", -timedelta(seconds=1))  # its first enqueue was lost
    worker.send_task(RELAY_OUTBOX_TASK, queue=MAINTENANCE_QUEUE)
    deadline = time.monotonic() + 15
    while not (runs := _relay_runs(migrated)):
        assert time.monotonic() < deadline, "the relay task did not run"
        time.sleep(0.05)
    assert runs[0].counts == {"relayed": 1}
    with Session(migrated) as session:
        row = session.get(EmailOutbox, outbox_id)
        assert row is not None
        recipient = row.recipient
    smtp_server.wait_for_email(recipient, "welcome")
