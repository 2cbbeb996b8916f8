"""Gathers the ops report: the broker's queues and workers, the outbox backlog and the last token cleanup."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from app.emails.models import EmailOutbox, EmailStatus
from app.maintenance.models import MaintenanceRun
from app.maintenance.service import CLEANUP_JOB
from app.ops.schemas import CleanupReport, OutboxReport, QueuesReport

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.ops.broker import BrokerProbe

__all__ = ("OpsService",)


class OpsService:
    """Read-only: the database parts come from ``session``, the broker parts from ``probe`` (bounded, never raising)."""

    __slots__ = ("probe", "session")

    def __init__(self, session: Session, probe: BrokerProbe) -> None:
        self.session = session
        self.probe = probe

    def outbox(self, now: datetime | None = None) -> OutboxReport:
        """Rows per status and the oldest pending row: how much mail is waiting, and for how long."""
        by_status = select(EmailOutbox.status, func.count()).group_by(EmailOutbox.status)
        counts: dict[str, int] = dict(self.session.execute(by_status).tuples().all())
        oldest: datetime | None = self.session.scalar(
            select(func.min(EmailOutbox.created_at)).where(EmailOutbox.status == EmailStatus.PENDING)
        )
        now = now or datetime.now(UTC)
        return OutboxReport(
            pending=counts.get(EmailStatus.PENDING, 0),
            sent=counts.get(EmailStatus.SENT, 0),
            failed=counts.get(EmailStatus.FAILED, 0),
            oldest_pending_at=oldest,
            oldest_pending_age_seconds=None if oldest is None else max(0.0, (now - oldest).total_seconds()),
        )

    def last_cleanup(self) -> CleanupReport | None:
        run = self.session.scalar(select(MaintenanceRun).where(MaintenanceRun.job == CLEANUP_JOB))
        if run is None:
            return None
        return CleanupReport(started_at=run.started_at, finished_at=run.finished_at, deleted=dict(run.deleted))

    def report(self) -> QueuesReport:
        """Everything at once. The database is read first; a broker or worker that does not answer is reported."""
        now = datetime.now(UTC)
        outbox, cleanup = self.outbox(now), self.last_cleanup()
        self.session.rollback()  # read-only: end the transaction before the (slower) broker round trips
        return QueuesReport(
            checked_at=now,
            broker=self.probe.queues(),
            workers=self.probe.workers(),
            outbox=outbox,
            token_cleanup=cleanup,
        )
