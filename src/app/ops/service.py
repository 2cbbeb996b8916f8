"""Gathers the ops report: the broker's queues and workers, the outbox backlog and the last run of each job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from app.core.task_metrics import BEAT_JOB
from app.emails.models import EmailOutbox, EmailStatus
from app.maintenance.models import MaintenanceRun
from app.maintenance.service import CLEANUP_JOB, RELAY_JOB
from app.ops.broker import BrokerUnavailable
from app.ops.schemas import BrokerReport, CleanupReport, JobReport, JobRun, OutboxReport, QueuesReport

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

    from app.core.settings import Settings
    from app.ops.broker import BrokerProbe

__all__ = ("STALE_AFTER_INTERVALS", "OpsService", "job_reports", "schedule_intervals")

# A job is stale when its last run finished more than this many intervals ago: one late or failed run is not yet
# a problem, three in a row are.
STALE_AFTER_INTERVALS = 3


def schedule_intervals(settings: Settings) -> dict[str, float]:
    """Each scheduled job, with how often it is meant to run in seconds: what its last run is judged against."""
    intervals = {
        RELAY_JOB: settings.outbox_relay_interval_seconds,
        CLEANUP_JOB: settings.token_cleanup_interval_seconds,
    }
    if settings.redis_url is not None and settings.task_metrics_enabled:
        # Beat's last run travels with the task metrics, through Redis; it dispatches its most frequent entry
        # this often.
        intervals[BEAT_JOB] = min(intervals.values())
    return intervals


def job_reports(runs: Mapping[str, JobRun], intervals: Mapping[str, float], now: datetime) -> dict[str, JobReport]:
    """Each job of ``intervals`` (job -> configured seconds) with its last run in ``runs``, judged at ``now``."""
    reports: dict[str, JobReport] = {}
    for job, interval in intervals.items():
        run = runs.get(job)
        age = None if run is None else max(0.0, (now - run.finished_at).total_seconds())
        reports[job] = JobReport(
            finished_at=None if run is None else run.finished_at,
            age_seconds=age,
            interval_seconds=interval,
            # A job that never ran is not judged: a fresh deploy runs its hourly cleanup an hour after beat starts,
            # and nothing here knows since when it has been due (the InkwellJobNeverRan alert does).
            stale=age is not None and age > STALE_AFTER_INTERVALS * interval,
            counts=None if run is None else run.counts,
        )
    return reports


def _cleanup_report(run: JobRun | None) -> CleanupReport | None:
    # The API's token_cleanup.deleted predates the column's rename to counts; clients keep reading it.
    if run is None:
        return None
    return CleanupReport(started_at=run.started_at, finished_at=run.finished_at, deleted=run.counts)


class OpsService:
    """Read-only: the database parts come from ``session``, the broker parts from ``probe`` (bounded, never raising);
    each job of ``intervals`` (see :func:`schedule_intervals`) is judged against its interval.
    """

    __slots__ = ("intervals", "probe", "session")

    def __init__(self, session: Session, probe: BrokerProbe, intervals: Mapping[str, float]) -> None:
        self.session = session
        self.probe = probe
        self.intervals = intervals

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

    def last_runs(self) -> dict[str, JobRun]:
        """The last recorded run of every job in the database that has run at least once, by job name."""
        return {
            run.job: JobRun(started_at=run.started_at, finished_at=run.finished_at, counts=dict(run.counts))
            for run in self.session.scalars(select(MaintenanceRun))
        }

    def report(self) -> QueuesReport:
        """Everything at once. The database is read first; a broker or worker that does not answer is reported."""
        now = datetime.now(UTC)
        outbox, runs = self.outbox(now), self.last_runs()
        self.session.rollback()  # read-only: end the transaction before the (slower) broker round trips
        try:
            snapshot = self.probe.snapshot(task_metrics=False)
        except BrokerUnavailable as exc:
            broker = BrokerReport(status=exc.status, detail=exc.detail)
        else:
            broker = BrokerReport(
                status="ok",
                queues=snapshot.depths,
                oldest_message_age_seconds=snapshot.oldest_ages,
                unacked=snapshot.unacked,
            )
            runs |= snapshot.job_runs()
        return QueuesReport(
            checked_at=now,
            broker=broker,
            workers=self.probe.workers(),
            outbox=outbox,
            token_cleanup=_cleanup_report(runs.get(CLEANUP_JOB)),
            jobs=job_reports(runs, self.intervals, now),
        )
