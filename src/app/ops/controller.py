"""Ops routes: ``GET /api/v1/ops/queues`` for superusers, and ``GET /metrics`` for Prometheus."""

from __future__ import annotations

from litestar import Controller, Response
from litestar.di import NamedDependency, Provide
from prometheus_client import CONTENT_TYPE_LATEST

from app.core.caller import requires_superuser
from app.core.metrics import HttpMetrics
from app.core.openapi import RESTRICTED_ERRORS, errors
from app.core.routes import get
from app.ops.deps import provide_ops_service
from app.ops.guards import requires_metrics_credential
from app.ops.metrics import OpsMetrics
from app.ops.schemas import QueuesReport
from app.ops.service import OpsService

__all__ = ("MetricsController", "OpsController")


class OpsController(Controller):
    path = "/ops"
    tags = ["ops"]
    dependencies = {"ops_service": Provide(provide_ops_service, sync_to_thread=False)}

    @get(
        "/queues",
        operation_id="getQueues",
        # On the handler, not the controller: Litestar's automatic OPTIONS route skips authentication, and a
        # controller-level guard would run there without a user.
        guards=[requires_superuser],
        responses=errors(*RESTRICTED_ERRORS),
    )
    def queues(self, ops_service: NamedDependency[OpsService]) -> QueuesReport:
        """Queue depths, workers online, the outbox backlog, the last token cleanup and, per housekeeping job, its
        last run and whether it is stale (superusers only).

        Always 200 within a few seconds: a broker or worker that does not answer is reported in the body as
        `unavailable` or `none`; on the embedded development broker, queue depths and workers are `not_available`.
        """
        return ops_service.report()


class MetricsController(Controller):
    path = "/metrics"
    include_in_schema = False

    # On the handler (see OpsController.queues); guards run before the handler, so a refusal reads nothing.
    @get("/", guards=[requires_metrics_credential])
    def metrics(
        self, http_metrics: NamedDependency[HttpMetrics], ops_metrics: NamedDependency[OpsMetrics]
    ) -> Response[bytes]:
        """HTTP metrics, then the ops gauges (read from the broker and the database now, hence the thread)."""
        return Response(http_metrics.exposition() + ops_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
