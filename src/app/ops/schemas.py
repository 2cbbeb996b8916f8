"""What ``GET /api/v1/ops/queues`` answers: one report per moving part, each saying whether it could be read."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

__all__ = ("BrokerReport", "CleanupReport", "JobReport", "JobRun", "OutboxReport", "QueuesReport", "WorkersReport")


class BrokerReport(msgspec.Struct, kw_only=True):
    """The Celery queues. ``not_available``: the embedded development broker cannot report depths."""

    status: Literal["ok", "unavailable", "not_available"]
    detail: str | None = None
    # Messages waiting per queue (all priorities), none taken by a worker yet.
    queues: dict[str, int] | None = None
    # Seconds the oldest message of each queue has waited to be taken (0 when empty): rising means stuck, not busy.
    oldest_message_age_seconds: dict[str, float] | None = None
    # Messages a worker took and has not acknowledged: running, prefetched, or a retry waiting for its countdown.
    unacked: int | None = None


class WorkersReport(msgspec.Struct, kw_only=True):
    """Workers that answered a ping in time. ``none``: the broker answered but no worker did."""

    status: Literal["ok", "none", "unavailable", "not_available"]
    detail: str | None = None
    online: list[str] = msgspec.field(default_factory=list)


class OutboxReport(msgspec.Struct, kw_only=True):
    """The email outbox by status; the age of the oldest pending row is how far behind delivery is."""

    pending: int
    sent: int
    failed: int
    oldest_pending_at: datetime | None = None
    oldest_pending_age_seconds: float | None = None


class CleanupReport(msgspec.Struct, kw_only=True):
    """The last token cleanup run: when, and how many rows it deleted per table."""

    started_at: datetime
    finished_at: datetime
    deleted: dict[str, int]


class JobRun(msgspec.Struct, kw_only=True, frozen=True):
    """The last recorded run of one housekeeping job and what it counted."""

    started_at: datetime
    finished_at: datetime
    counts: dict[str, int]


class JobReport(msgspec.Struct, kw_only=True):
    """One job beat runs: when it last finished, and whether that is too long ago for its interval.

    ``stale``: its last run finished more than three intervals ago (beat, the workers or the job itself are not
    keeping up). A job that never ran (``finished_at`` null) is not judged stale: see ``job_reports``.
    ``counts``: what the last run counted (the relay: ``relayed``; the cleanup: rows deleted per table).
    """

    finished_at: datetime | None
    age_seconds: float | None
    interval_seconds: float
    stale: bool
    counts: dict[str, int] | None = None


class QueuesReport(msgspec.Struct, kw_only=True):
    checked_at: datetime
    broker: BrokerReport
    workers: WorkersReport
    outbox: OutboxReport
    token_cleanup: CleanupReport | None
    # Per job (outbox_relay, token_cleanup).
    jobs: dict[str, JobReport]
