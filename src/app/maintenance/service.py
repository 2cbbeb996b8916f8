"""Token cleanup: deletes in small committed batches, so it never holds long locks and two runs can overlap."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from advanced_alchemy.repository import SQLAlchemySyncRepository
from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from app.auth.models import OneTimeToken, RefreshToken
from app.emails.models import EmailOutbox, EmailStatus
from app.maintenance.models import MaintenanceRun

if TYPE_CHECKING:
    from sqlalchemy import CursorResult
    from sqlalchemy.orm import Session

    from app.core.settings import Settings

__all__ = ("CLEANUP_JOB", "CleanupService")

logger = logging.getLogger(__name__)

CLEANUP_JOB = "token_cleanup"
TokenModel = type[RefreshToken] | type[OneTimeToken] | type[EmailOutbox]


class CleanupService(SQLAlchemySyncRepositoryService[MaintenanceRun]):
    """Deletes what no rule needs any more and records the run in ``maintenance_run``.

    - refresh tokens that expired, or were spent or revoked more than the grace period ago (a spent token is
      kept that long so replaying it still revokes its login's family);
    - one-time tokens that expired or were used;
    - outbox rows sent more than the retention period ago (failed rows stay for ops to look at).
    """

    class Repo(SQLAlchemySyncRepository[MaintenanceRun]):
        model_type = MaintenanceRun

    repository_type = Repo

    def __init__(self, session: Session, settings: Settings, **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.batch_size = settings.token_cleanup_batch_size
        self.grace = timedelta(hours=settings.token_cleanup_grace_hours)
        self.retention = timedelta(days=settings.email_outbox_retention_days)

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
            "one_time_token": self._delete(
                OneTimeToken, or_(OneTimeToken.expires_at <= now, OneTimeToken.used_at.is_not(None))
            ),
            "email_outbox": self._delete(
                EmailOutbox, (EmailOutbox.status == EmailStatus.SENT) & (EmailOutbox.sent_at < now - self.retention)
            ),
        }
        self._record(started_at, deleted)
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

    def _record(self, started_at: datetime, deleted: dict[str, int]) -> None:
        """Upsert this job's row: concurrent runs each leave a complete record, the last one wins."""
        session = self.repository.session
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        values = {"started_at": started_at, "finished_at": datetime.now(UTC), "deleted": deleted}
        session.execute(
            dialect.insert(MaintenanceRun)
            .values(job=CLEANUP_JOB, **values)
            .on_conflict_do_update(index_elements=[MaintenanceRun.job], set_=values)
        )
        session.commit()
