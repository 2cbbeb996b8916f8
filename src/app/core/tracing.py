"""OpenTelemetry traces: one trace from an HTTP request through its SQL statements and the tasks it publishes to the
tasks' runs in a worker, sent over OTLP/HTTP. Imported only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set
(see ``app.core.telemetry``).

The trace context travels in each task's message headers (W3C ``traceparent``), beside the request id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from celery import Task, current_app
from litestar.plugins import InitPlugin
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpUpDownCounter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.engine.base import OptionEngine

from app.core.request_context import current_request_id

if TYPE_CHECKING:
    from litestar.config.app import AppConfig
    from litestar.plugins import PluginProtocol
    from litestar.types import Message, Scope
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy import Engine

    from app.core.settings import Settings
    from app.core.telemetry import Role

__all__ = ("REQUEST_ID_ATTRIBUTE", "Tracing")

REQUEST_ID_ATTRIBUTE = "inkwell.request_id"
# Span attributes that carry the request's URL: its query string may hold a token, so it is cut off.
_URL_ATTRIBUTES = ("http.url", "http.target", "url.full")
_QUERY_ATTRIBUTE = "url.query"
_FLUSH_TIMEOUT_MS = 5_000


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def _server_span_started(span: trace.Span, _: dict[str, Any]) -> None:
    # The edge middleware, outside this one, has bound the request id already.
    request_id = current_request_id()
    if request_id is not None:
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        if isinstance(value := attributes.get(name), str):
            span.set_attribute(name, _without_query(value))
    if _QUERY_ATTRIBUTE in attributes:
        span.set_attribute(_QUERY_ATTRIBUTE, "")


def _span_name(scope: Scope) -> tuple[str, dict[str, Any]]:
    # Named by its route once routed (see _name_by_route); a raw path would make a name per resource id.
    return str(scope.get("method", scope["type"])), {}


async def _name_by_route(message: Message, scope: Scope) -> None:
    """Name the request's span after its route, known once routed: ``POST /api/v1/auth/register``."""
    if message["type"] == "http.response.start" and "path_template" in scope:
        route = scope["path_template"]
        span = trace.get_current_span()
        span.update_name(f"{scope.get('method')} {route}")
        span.set_attribute("http.route", route)


def _never_run_here(*_: Any, **__: Any) -> None:
    raise NotImplementedError("a task published by name runs in a worker")


class Tracing:
    """One process's tracer provider and its instrumentation. Build one per process (Celery's instrumentation is
    process-wide); ``exporter`` replaces the OTLP exporter (tests keep spans in memory).
    """

    def __init__(self, settings: Settings, role: Role, exporter: SpanExporter | None = None) -> None:
        resource = Resource.create({SERVICE_NAME: settings.otel_service_name or f"inkwell-{role}"})
        self.provider = TracerProvider(resource=resource)
        if exporter is None:
            # Passed on, not left to the SDK: the setting may come from .env, which the SDK never reads.
            endpoint = f"{(settings.otel_exporter_otlp_endpoint or '').rstrip('/')}/v1/traces"
            exporter = OTLPSpanExporter(endpoint=endpoint)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self._sql_tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        self._celery: CeleryInstrumentor | None = None

    def litestar_plugins(self) -> list[PluginProtocol]:
        """A server span per HTTP request, named after its route, with the request id and no query string."""
        config = OpenTelemetryConfig(
            tracer_provider=self.provider,
            scope_span_details_extractor=_span_name,
            server_request_hook_handler=_server_span_started,
            # A span per ASGI message would outnumber the request's own work.
            exclude_spans=["receive", "send"],
        )
        return [OpenTelemetryPlugin(config), _NameSpansByRoute()]

    def instrument_engine(self, engine: Engine) -> None:
        """A span per statement on ``engine`` (its text, never its parameters)."""
        if isinstance(engine, OptionEngine):
            return  # it fires the events of the engine it was derived from, which is instrumented already
        EngineTracer(self._sql_tracer, engine, NoOpUpDownCounter("db.client.connections.usage"))  # type: ignore[no-untyped-call]

    def instrument_celery(self, published_by_name: tuple[str, ...] = ()) -> None:
        """Spans for publishing and running tasks, in this process (Celery's signals are global).

        ``published_by_name`` are the tasks this process publishes without importing them (the API's).
        """
        # The instrumentation looks a published task up by name in the current app's registry, and without a task
        # it starts the publish span but never ends it. Placeholders (never run here) let it find one.
        registry = current_app.tasks
        for name in published_by_name:
            if name not in registry:
                registry.register(type("PublishedByName", (Task,), {"name": name, "run": _never_run_here})())
        instrumentor = CeleryInstrumentor()  # type: ignore[no-untyped-call]
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=self.provider)
            self._celery = instrumentor

    def flush(self) -> None:
        self.provider.force_flush(_FLUSH_TIMEOUT_MS)

    def shutdown(self) -> None:
        """Stop tracing in this process: Celery's instrumentation removed, the last spans sent."""
        if self._celery is not None:
            self._celery.uninstrument()
            self._celery = None
        self.provider.shutdown()


class _NameSpansByRoute(InitPlugin):
    """Beside Litestar's plugin (which it finds by its class name, so it is not subclassed)."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.before_send.append(_name_by_route)
        return app_config
