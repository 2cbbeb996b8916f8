"""Token cleanup deletes exactly what is due: rows one second either side of each boundary go or stay."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from celery import Celery
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.audit.models import EventKind, SecurityEvent
from app.auth.models import LoginSession, OneTimeToken, RefreshToken, SignInThrottle, TokenPurpose
from app.core.settings import Settings
from app.core.task_queue import CLEANUP_TOKENS_TASK, MAINTENANCE_QUEUE
from app.emails.models import EmailKind, EmailOutbox, EmailStatus
from app.idempotency.models import IdempotencyKey
from app.maintenance.models import MaintenanceRun
from app.maintenance.service import CLEANUP_JOB, CleanupService
from app.users.models import User

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
FAR = timedelta(days=365)


@pytest.fixture
def owner(client: object, migrated: Engine) -> Iterator[uuid.UUID]:
    """A user to hang tokens on, with a session that outlives every boundary (``client`` empties the tables
    afterwards); the session's id is the user's."""
    with Session(migrated) as session:
        user = User(email=f"{uuid.uuid4().hex}@example.com", hashed_password="x")
        session.add(user)
        session.flush()
        session.add(_session(user.id, "ls-holding-the-tokens", expires=NOW + FAR, session_id=user.id))
        session.commit()
        yield user.id


def _session(owner: uuid.UUID, name: str, *, expires: datetime, ended: datetime | None = None,
             session_id: uuid.UUID | None = None) -> LoginSession:  # fmt: skip
    # The name goes where the survivors are read from: the user agent.
    return LoginSession(
        id=session_id or uuid.uuid4(), user_id=owner, created_at=NOW - FAR, last_used_at=NOW - FAR,
        expires_at=expires, ended_at=ended, user_agent=name,
    )  # fmt: skip


def _refresh(owner: uuid.UUID, name: str, *, expires: datetime, spent: datetime | None = None,
             revoked: datetime | None = None) -> RefreshToken:  # fmt: skip
    return RefreshToken(
        user_id=owner, session_id=owner, token_hash=name.ljust(64, "-"), created_at=NOW - FAR,
        expires_at=expires, spent_at=spent, revoked_at=revoked,
    )  # fmt: skip


def _one_time(owner: uuid.UUID, name: str, *, expires: datetime, used: datetime | None = None) -> OneTimeToken:
    return OneTimeToken(
        user_id=owner, purpose=TokenPurpose.RESET_PASSWORD, token_hash=name.ljust(64, "-"), created_at=NOW - FAR,
        expires_at=expires, used_at=used,
    )  # fmt: skip


def _email(name: str, status: EmailStatus, sent: datetime | None) -> EmailOutbox:
    return EmailOutbox(
        kind=EmailKind.WELCOME, recipient=f"{name}@example.com", payload={}, status=status, attempts=1,
        next_attempt_at=NOW - FAR, sent_at=sent,
    )  # fmt: skip


def _event(name: str, occurred: datetime) -> SecurityEvent:
    # The name goes where the survivors are read from: the request id.
    return SecurityEvent(occurred_at=occurred, kind=EventKind.SIGN_IN_FAILED, request_id=name, detail={})


def _throttle(name: str, last_failure: datetime) -> SignInThrottle:
    return SignInThrottle(key=name, failures=3, last_failure_at=last_failure)


def _idempotency_key(name: str, expires: datetime) -> IdempotencyKey:
    return IdempotencyKey(
        caller="anonymous", key=name, request_digest="0" * 64, status_code=201, response_body=b"{}",
        created_at=expires - FAR, expires_at=expires,
    )  # fmt: skip


def _boundary_rows(owner: uuid.UUID, settings: Settings) -> list[object]:
    grace = timedelta(hours=settings.token_cleanup_grace_hours)
    retention = timedelta(days=settings.email_outbox_retention_days)
    event_retention = timedelta(days=settings.security_event_retention_days)
    lockout = timedelta(seconds=settings.sign_in_lockout_seconds)
    return [
        _refresh(owner, "rt-expired", expires=NOW - SECOND),
        _refresh(owner, "rt-expires-at-now", expires=NOW),
        _refresh(owner, "rt-live", expires=NOW + SECOND),
        _refresh(owner, "rt-spent-before-grace", expires=NOW + FAR, spent=NOW - grace - SECOND),
        _refresh(owner, "rt-spent-within-grace", expires=NOW + FAR, spent=NOW - grace + SECOND),
        _refresh(owner, "rt-revoked-before-grace", expires=NOW + FAR, revoked=NOW - grace - SECOND),
        _refresh(owner, "rt-revoked-within-grace", expires=NOW + FAR, revoked=NOW - grace + SECOND),
        _session(owner, "ls-expired", expires=NOW - SECOND),
        _session(owner, "ls-expires-at-now", expires=NOW),
        _session(owner, "ls-live", expires=NOW + SECOND),
        _session(owner, "ls-ended-before-grace", expires=NOW + FAR, ended=NOW - grace - SECOND),
        _session(owner, "ls-ended-within-grace", expires=NOW + FAR, ended=NOW - grace + SECOND),
        _one_time(owner, "ott-expired", expires=NOW - SECOND),
        _one_time(owner, "ott-live", expires=NOW + SECOND),
        _one_time(owner, "ott-used", expires=NOW + FAR, used=NOW - SECOND),
        _email("sent-before-retention", EmailStatus.SENT, NOW - retention - SECOND),
        _email("sent-within-retention", EmailStatus.SENT, NOW - retention + SECOND),
        _email("failed-long-ago", EmailStatus.FAILED, None),
        _email("pending-long-ago", EmailStatus.PENDING, None),
        _event("se-before-retention", NOW - event_retention - SECOND),
        _event("se-within-retention", NOW - event_retention + SECOND),
        _throttle("st-forgotten", NOW - lockout - SECOND),
        _throttle("st-recent", NOW - lockout + SECOND),
        _idempotency_key("ik-expired", NOW - SECOND),
        _idempotency_key("ik-expires-at-now", NOW),
        _idempotency_key("ik-live", NOW + SECOND),
    ]


def _survivors(engine: Engine) -> set[str]:
    with Session(engine) as session:
        tokens = session.scalars(select(RefreshToken.token_hash)).all()
        one_time = session.scalars(select(OneTimeToken.token_hash)).all()
        emails = session.scalars(select(EmailOutbox.recipient)).all()
        sessions = session.scalars(select(LoginSession.user_agent)).all()
        events = session.scalars(select(SecurityEvent.request_id)).all()
        throttles = session.scalars(select(SignInThrottle.key)).all()
        idempotency_keys = session.scalars(select(IdempotencyKey.key)).all()
    names = {name.rstrip("-") for name in [*tokens, *one_time]} | {email.split("@")[0] for email in emails}
    return names | {name for name in [*sessions, *events, *throttles, *idempotency_keys] if name}


EXPECTED_SURVIVORS = {
    "rt-live",
    "rt-spent-within-grace",
    "rt-revoked-within-grace",
    "ls-holding-the-tokens",
    "ls-live",
    "ls-ended-within-grace",
    "ott-live",
    "sent-within-retention",
    "failed-long-ago",
    "pending-long-ago",
    "se-within-retention",
    "st-recent",
    "ik-live",
}


def test_cleanup_deletes_exactly_the_rows_past_each_boundary(
    settings: Settings, migrated: Engine, owner: uuid.UUID
) -> None:
    small_batches = msgspec.structs.replace(settings, token_cleanup_batch_size=2)
    with Session(migrated) as session:
        session.add_all(_boundary_rows(owner, settings))
        session.commit()
        deleted = CleanupService(session, small_batches).run(now=NOW)
    assert deleted == {
        "refresh_token": 4,
        "login_session": 3,
        "one_time_token": 2,
        "email_outbox": 1,
        "security_event": 1,
        "sign_in_throttle": 1,
        "idempotency_key": 2,
    }
    assert _survivors(migrated) == EXPECTED_SURVIVORS
    with Session(migrated) as session:
        record = session.scalars(select(MaintenanceRun).where(MaintenanceRun.job == CLEANUP_JOB)).one()
    assert record.counts == deleted
    assert record.started_at <= record.finished_at


# Two runs splitting the work needs row locks (SKIP LOCKED), which only PostgreSQL has.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_cleanups_at_once_delete_each_row_once(settings: Settings, migrated: Engine, owner: uuid.UUID) -> None:
    small_batches = msgspec.structs.replace(settings, token_cleanup_batch_size=3)
    with Session(migrated) as session:
        session.add_all(
            [_refresh(owner, f"rt-old-{i}", expires=NOW - SECOND) for i in range(200)]
            + [_refresh(owner, f"rt-new-{i}", expires=NOW + SECOND) for i in range(5)]
        )
        session.commit()
    results: list[dict[str, int]] = []

    def run() -> None:
        with Session(migrated) as session:
            results.append(CleanupService(session, small_batches).run(now=NOW))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result["refresh_token"] for result in results) == 200
    with Session(migrated) as session:
        assert len(session.scalars(select(RefreshToken.id)).all()) == 5


def test_the_beat_task_runs_on_a_worker_and_records_its_run(migrated: Engine, owner: uuid.UUID, worker: Celery) -> None:
    with Session(migrated) as session:
        session.add(_refresh(owner, "rt-expired", expires=datetime.now(UTC) - SECOND))
        session.commit()
    worker.send_task(CLEANUP_TOKENS_TASK, queue=MAINTENANCE_QUEUE)
    deadline = time.monotonic() + 15
    record = None
    while record is None:
        assert time.monotonic() < deadline, "the cleanup task did not run"
        time.sleep(0.05)
        with Session(migrated) as session:
            record = session.scalar(select(MaintenanceRun).where(MaintenanceRun.job == CLEANUP_JOB))
    assert record.counts == {
        "refresh_token": 1,
        "login_session": 0,
        "one_time_token": 0,
        "email_outbox": 0,
        "security_event": 0,
        "sign_in_throttle": 0,
        "idempotency_key": 0,
    }
