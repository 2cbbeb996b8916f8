"""Traces and error reports, both optional and off by default: a process that configures neither never imports
OpenTelemetry or Sentry's SDK (``app.core.tracing`` and ``app.core.error_reports`` are loaded only when set).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from litestar.plugins import PluginProtocol
    from sqlalchemy import Engine

    from app.core.error_reports import ErrorReports
    from app.core.settings import Settings
    from app.core.tracing import Tracing

__all__ = ("Role", "Telemetry")

# Which process reports: the traces' default service name and a tag on error reports.
Role = Literal["web", "worker"]


@dataclass(frozen=True, slots=True)
class Telemetry:
    """What a process sends out about itself: traces (``tracing``) and unhandled errors (``error_reports``)."""

    tracing: Tracing | None = None
    error_reports: ErrorReports | None = None

    @classmethod
    def from_settings(cls, settings: Settings, role: Role) -> Telemetry:
        """Whatever ``settings`` turn on, started for this process."""
        tracing = error_reports = None
        if settings.otel_exporter_otlp_endpoint:
            from app.core.tracing import Tracing  # noqa: PLC0415  (OpenTelemetry loads only when configured)

            tracing = Tracing(settings, role)
        if settings.sentry_dsn:
            from app.core.error_reports import ErrorReports  # noqa: PLC0415  (the same for Sentry)

            error_reports = ErrorReports(settings, role)
        return cls(tracing, error_reports)

    def litestar_plugins(self) -> list[PluginProtocol]:
        """The web app's plugins: a server span per request."""
        return self.tracing.litestar_plugins() if self.tracing else []

    def instrument_engine(self, engine: Engine) -> None:
        """A span per SQL statement on ``engine``."""
        if self.tracing:
            self.tracing.instrument_engine(engine)

    def instrument_celery(self, published_by_name: tuple[str, ...] = ()) -> None:
        """Spans for the tasks this process publishes and runs, linked through the messages' headers;
        ``published_by_name`` are those it publishes without importing them."""
        if self.tracing:
            self.tracing.instrument_celery(published_by_name)

    def report_unexpected(self, error: BaseException, tags: dict[str, str]) -> None:
        """Report an error nothing handled (a 500, a task that raised), tagged with the current request id."""
        if self.error_reports:
            self.error_reports.report(error, tags)

    def flush(self) -> None:
        """Send what is buffered: before a process exits, which a pool's child does without running ``atexit``."""
        if self.tracing:
            self.tracing.flush()
        if self.error_reports:
            self.error_reports.flush()
