"""The housekeeping jobs beat runs, each recording its last run in ``maintenance_run``.

Token cleanup deletes in small committed batches, so it never holds long locks and two runs can overlap; the outbox
relay hands pending emails past their time back to the workers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from advanced_alchemy.repository import SQLAlchemySyncRepository
from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from app.audit.models import SecurityEvent
from app.auth.models import LoginSession, OneTimeToken, RefreshToken, SignInThrottle
from app.emails.models import EmailOutbox, EmailStatus
from app.emails.service import OutboxService
from app.idempotency.models import IdempotencyKey
from app.maintenance.models import MaintenanceRun

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import CursorResult
    from sqlalchemy.orm import Session

    from app.core.settings import Settings
    from app.emails.service import QueuedEmail

__all__ = ("CLEANUP_JOB", "RELAY_JOB", "CleanupService", "OutboxRelayService", "record_run")

logger = logging.getLogger(__name__)

CLEANUP_JOB = "token_cleanup"
RELAY_JOB = "outbox_relay"
TokenModel = (
    type[RefreshToken]
    | type[LoginSession]
    | type[OneTimeToken]
    | type[EmailOutbox]
    | type[SecurityEvent]
    | type[SignInThrottle]
    | type[IdempotencyKey]
)


def record_run(session: Session, job: str, started_at: datetime, counts: dict[str, int]) -> None:
    """Upsert ``job``'s row with a run that started at ``started_at`` and finished now, and commit it.

    Concurrent runs each leave a complete record; the last one wins.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {"started_at": started_at, "finished_at": datetime.now(UTC), "counts": counts}
    session.execute(
        dialect.insert(MaintenanceRun)
        .values(job=job, **values)
        .on_conflict_do_update(index_elements=[MaintenanceRun.job], set_=values)
    )
    session.commit()


class CleanupService(SQLAlchemySyncRepositoryService[MaintenanceRun]):
    """Deletes what no rule needs any more and records the run in ``maintenance_run``.

    - refresh tokens that expired, or were spent or revoked more than the grace period ago (a spent token is
      kept that long so replaying it still ends its session);
    - sessions that lapsed, or ended more than the grace period ago (their last tokens go with them);
    - one-time tokens that expired or were used;
    - outbox rows sent more than the retention period ago (failed rows stay for ops to look at);
    - security events older than their retention period;
    - failed sign-ins of addresses whose last failure is older than the lockout period (forgotten, and unlocked);
    - idempotency keys past their lifetime (a repeat of their request would be done again).
    """

    class Repo(SQLAlchemySyncRepository[MaintenanceRun]):
        model_type = MaintenanceRun

    repository_type = Repo

    def __init__(self, session: Session, settings: Settings, **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.batch_size = settings.token_cleanup_batch_size
        self.grace = timedelta(hours=settings.token_cleanup_grace_hours)
        self.retention = timedelta(days=settings.email_outbox_retention_days)
        self.event_retention = timedelta(days=settings.security_event_retention_days)
        self.lockout = timedelta(seconds=settings.sign_in_lockout_seconds)

    def run(self, now: datetime | None = None) -> dict[str, int]:
        """Delete everything due at ``now`` (default: the current time); return the number of rows per table."""
        started_at = datetime.now(UTC)
        now = now or started_at
        deleted = {
            "refresh_token": self._delete(
                RefreshToken,
                or_(
                    RefreshToken.expires_at <= now,
                    RefreshToken.spent_at < now - self.grace,
                    RefreshToken.revoked_at < now - self.grace,
                ),
            ),
            "login_session": self._delete(
                LoginSession, or_(LoginSession.expires_at <= now, LoginSession.ended_at < now - self.grace)
            ),
            "one_time_token": self._delete(
                OneTimeToken, or_(OneTimeToken.expires_at <= now, OneTimeToken.used_at.is_not(None))
            ),
            "email_outbox": self._delete(
                EmailOutbox, (EmailOutbox.status == EmailStatus.SENT) & (EmailOutbox.sent_at < now - self.retention)
            ),
            "security_event": self._delete(SecurityEvent, SecurityEvent.occurred_at < now - self.event_retention),
            "sign_in_throttle": self._delete(SignInThrottle, SignInThrottle.last_failure_at < now - self.lockout),
            "idempotency_key": self._delete(IdempotencyKey, IdempotencyKey.expires_at <= now),
        }
        record_run(self.repository.session, CLEANUP_JOB, started_at, deleted)
        return deleted

    def _delete(self, model: TokenModel, criterion: ColumnElement[bool]) -> int:
        """Delete matching rows ``batch_size`` at a time, committing each batch.

        On PostgreSQL each batch skips rows another run has locked, so concurrent runs split the work.
        """
        session = self.repository.session
        total = 0
        while True:
            batch = select(model.id).where(criterion).limit(self.batch_size).with_for_update(skip_locked=True)
            result = cast(
                "CursorResult[Any]",
                session.execute(delete(model).where(model.id.in_(batch)).execution_options(synchronize_session=False)),
            )
            session.commit()
            total += result.rowcount
            if result.rowcount < self.batch_size:
                return total


class OutboxRelayService:
    """The outbox relay: pending rows past their time (their enqueue failed, or their task was lost) go to the
    workers again, and the run is recorded as ``outbox_relay`` with the number relayed.
    """

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.outbox = OutboxService(session, settings)
        self.batch_size = settings.outbox_relay_batch_size

    def run(self, enqueue: Callable[[QueuedEmail], object]) -> int:
        """Claim up to a batch of due rows, hand each to ``enqueue``, record the run; return how many were relayed.

        A run whose ``enqueue`` raises is not recorded: the claimed rows come due again after the relay delay.
        """
        started_at = datetime.now(UTC)
        due = self.outbox.claim_due(self.batch_size)
        for email in due:
            enqueue(email)
        record_run(self.session, RELAY_JOB, started_at, {"relayed": len(due)})
        return len(due)
