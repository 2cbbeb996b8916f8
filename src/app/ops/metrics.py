"""Gauges computed at scrape time: queue depths and the outbox backlog, each read with a short timeout.

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
from app.ops.service import OpsService

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client import Metric
    from sqlalchemy import Engine

    from app.ops.broker import BrokerProbe

__all__ = ("OpsMetrics",)

logger = logging.getLogger(__name__)

PREFIX = "inkwell"


def _gauge(
    name: str, documentation: str, value: float | None = None, labels: list[str] | None = None
) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value, labels=labels)


class _OpsCollector(Collector):
    def __init__(self, engine: Engine, probe: BrokerProbe) -> None:
        self.engine = engine
        self.probe = probe

    def collect(self) -> Iterator[Metric]:
        yield from self._broker()
        yield from self._database()

    def _broker(self) -> Iterator[Metric]:
        report = self.probe.queues()
        if report.status == "not_available":
            return
        yield _gauge("broker_up", "1 if the broker (Redis) answered this scrape, else 0", int(report.status == "ok"))
        if report.queues is None or report.unacked is None:
            return
        depth = _gauge("queue_depth", "Messages waiting in a Celery queue, not yet taken by a worker", labels=["queue"])
        for queue, messages in report.queues.items():
            depth.add_metric([queue], messages)
        yield depth
        yield _gauge(
            "queue_unacked", "Messages taken by workers and not yet acknowledged (running or waiting)", report.unacked
        )

    def _database(self) -> Iterator[Metric]:
        try:
            with Session(self.engine) as session:
                service = OpsService(session, self.probe)
                outbox, cleanup = service.outbox(), service.last_cleanup()
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
        if cleanup is not None:
            yield _gauge(
                "token_cleanup_last_run_timestamp_seconds",
                "When the last token cleanup finished (Unix time)",
                cleanup.finished_at.timestamp(),
            )


class OpsMetrics:
    """The app's ops gauges, rendered in the Prometheus text format on demand."""

    def __init__(self, engine: Engine, probe: BrokerProbe) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_OpsCollector(engine, probe))

    def exposition(self) -> bytes:
        """Reads the broker and the database now (blocking: call it from a worker thread)."""
        return generate_latest(self.registry)
