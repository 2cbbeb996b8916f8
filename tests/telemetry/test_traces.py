"""One trace from a registration to its email: the HTTP request, its SQL, the task's publish and its run in a real
worker, kept by the SDK's in-memory exporter."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from celery import Celery
from litestar.testing import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine

from app.application import create_app
from app.core.settings import Settings
from app.core.task_queue import SEND_EMAIL_TASK
from app.core.telemetry import Telemetry
from app.core.tracing import REQUEST_ID_ATTRIBUTE, Tracing
from tests.factories import API, unique_email
from tests.mail import SMTPServer

RunWorker = Callable[..., AbstractContextManager[Celery]]
RUN_SPAN = f"run/{SEND_EMAIL_TASK}"
PUBLISH_SPAN = f"apply_async/{SEND_EMAIL_TASK}"


@pytest.fixture
def traced(settings: Settings) -> Iterator[tuple[Telemetry, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = Tracing(settings, "web", exporter=exporter)
    yield Telemetry(tracing=tracing), exporter
    tracing.shutdown()


def _spans_once_run(telemetry: Telemetry, exporter: InMemorySpanExporter, timeout: float = 15) -> list[ReadableSpan]:
    """Every span, once the worker's run of the email task has ended (it ends after the email went out)."""
    assert telemetry.tracing is not None
    deadline = time.monotonic() + timeout
    while True:
        telemetry.flush()
        spans = list(exporter.get_finished_spans())
        if any(span.name == RUN_SPAN for span in spans):
            return spans
        assert time.monotonic() < deadline, [span.name for span in spans]
        time.sleep(0.05)


def _statement(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("db.statement", ""))


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


@pytest.mark.usefixtures("empty_database")
def test_a_registration_is_one_trace_from_the_request_to_its_email(
    settings: Settings,
    migrated: Engine,
    smtp_server: SMTPServer,
    run_worker: RunWorker,
    traced: tuple[Telemetry, InMemorySpanExporter],
) -> None:
    telemetry, exporter = traced
    email = unique_email("traced")
    with run_worker(telemetry=telemetry), TestClient(app=create_app(settings, telemetry=telemetry)) as client:
        response = client.post(
            f"{API}/auth/register?note=query-secret",
            json={"email": email, "password": "long enough"},
            headers={"X-Request-ID": "trace-1"},
        )
        assert response.status_code == 201
        smtp_server.wait_for_email(email, "verify")
        spans = _spans_once_run(telemetry, exporter)

    [server] = [span for span in spans if span.kind is SpanKind.SERVER and span.name == "POST /api/v1/auth/register"]
    assert server.attributes is not None
    assert server.attributes[REQUEST_ID_ATTRIBUTE] == "trace-1"
    assert server.status.is_ok
    assert not [value for value in server.attributes.values() if "query-secret" in str(value)]
    trace = [span for span in spans if span.context.trace_id == server.context.trace_id]
    inserts = [span for span in trace if "INSERT INTO user_account" in _statement(span)]
    assert inserts, [span.name for span in trace]
    assert {_parent_id(span) for span in inserts} == {server.context.span_id}
    publishes = [span for span in trace if span.name == PUBLISH_SPAN]
    assert publishes, [span.name for span in trace]
    assert all(span.kind is SpanKind.PRODUCER and _parent_id(span) == server.context.span_id for span in publishes)
    runs = [span for span in trace if span.name == RUN_SPAN]
    assert runs, [span.name for span in trace]
    publish_ids = {span.context.span_id for span in publishes}
    assert all(span.kind is SpanKind.CONSUMER and _parent_id(span) in publish_ids for span in runs)
    # The worker's own statements (reading and marking the outbox row) belong to its run.
    run_ids = {span.context.span_id for span in runs}
    assert any(_parent_id(span) in run_ids and "email_outbox" in _statement(span) for span in trace)
