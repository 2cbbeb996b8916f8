"""Gauges computed at scrape time: the broker's queues and task metrics, the outbox backlog and the scheduled jobs'
last runs, each part read with a short timeout.

They live in a registry of the app's own (not the process-wide one), so an app built twice in one process (tests)
never registers them twice, and ``/metrics`` appends them to the HTTP metrics in single- and multiprocess mode.
A part that cannot be read is reported by its ``*_up`` gauge at 0, its other gauges left out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.emails.models import EmailStatus
from app.ops.broker import BrokerUnavailable
from app.ops.service import OpsService, schedule_intervals
from app.ops.task_metrics import celery_metric_families

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client import Metric
    from sqlalchemy import Engine

    from app.core.settings import Settings
    from app.ops.broker import BrokerProbe

__all__ = ("OpsMetrics",)

logger = logging.getLogger(__name__)

PREFIX = "inkwell"
BROKER_UP_HELP = "1 if the broker (Redis) answered this scrape, else 0"
TASK_METRICS_HELP = "1 if the celery_* task metrics are shared through Redis, 0 on the embedded development broker"


def _gauge(
    name: str, documentation: str, value: float | None = None, labels: list[str] | None = None
) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value, labels=labels)


class _OpsCollector(Collector):
    def __init__(self, engine: Engine, probe: BrokerProbe, settings: Settings) -> None:
        self.engine = engine
        self.probe = probe
        self.task_metrics = settings.task_metrics_enabled
        self.intervals = schedule_intervals(settings)

    def collect(self) -> Iterator[Metric]:
        # Labelled "schedule", not "job": Prometheus keeps "job" for the scrape job and would rename this one.
        last_runs = _gauge(
            "last_run_timestamp_seconds", "When a scheduled job last ran (Unix time)", labels=["schedule"]
        )
        intervals = _gauge(
            "run_interval_seconds",
            "How often a scheduled job is meant to run: its staleness yardstick",
            labels=["schedule"],
        )
        for schedule, seconds in self.intervals.items():
            intervals.add_metric([schedule], seconds)
        runs: dict[str, float] = {}
        yield from self._broker(runs)
        yield from self._database(runs)
        for schedule, at in sorted(runs.items()):
            last_runs.add_metric([schedule], at)
        yield last_runs
        yield intervals

    def _broker(self, runs: dict[str, float]) -> Iterator[Metric]:
        try:
            snapshot = self.probe.snapshot(task_metrics=self.task_metrics)
        except BrokerUnavailable as exc:
            yield _gauge("task_metrics_available", TASK_METRICS_HELP, 0)
            if exc.status == "unavailable":
                yield _gauge("broker_up", BROKER_UP_HELP, 0)
            return
        yield _gauge("broker_up", BROKER_UP_HELP, 1)
        yield _gauge("task_metrics_available", TASK_METRICS_HELP, int(self.task_metrics))
        yield from celery_metric_families(snapshot)
        runs.update(snapshot.last_runs)

    def _database(self, runs: dict[str, float]) -> Iterator[Metric]:
        try:
            with Session(self.engine) as session:
                service = OpsService(session, self.probe, self.intervals)
                outbox, last_runs = service.outbox(), service.last_runs()
        except SQLAlchemyError as exc:
            logger.warning("metrics: the database did not answer: %s", exc)
            yield _gauge("database_up", "1 if the database answered this scrape, else 0", 0)
            return
        yield _gauge("database_up", "1 if the database answered this scrape, else 0", 1)
        emails = _gauge("outbox_emails", "Rows in the email outbox by status", labels=["status"])
        emails.add_metric([EmailStatus.PENDING], outbox.pending)
        emails.add_metric([EmailStatus.SENT], outbox.sent)
        emails.add_metric([EmailStatus.FAILED], outbox.failed)
        yield emails
        yield _gauge(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest pending email (0 when none is pending): how far behind delivery is",
            outbox.oldest_pending_age_seconds or 0.0,
        )
        runs.update({job: run.finished_at.timestamp() for job, run in last_runs.items()})


class OpsMetrics:
    """The app's ops gauges, rendered in the Prometheus text format on demand."""

    def __init__(self, engine: Engine, probe: BrokerProbe, settings: Settings) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_OpsCollector(engine, probe, settings))

    def exposition(self) -> bytes:
        """Reads the broker and the database now (blocking: call it from a worker thread)."""
        return generate_latest(self.registry)
