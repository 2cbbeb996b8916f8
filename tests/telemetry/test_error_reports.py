"""Unhandled errors go to Sentry with their request id and without a secret: a capturing transport (sentry-sdk's own
way to test) keeps the envelopes the SDK would send."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import sentry_sdk
from celery import Celery
from litestar import Request, post
from litestar.testing import TestClient
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from app.application import create_app
from app.core.error_reports import ErrorReports
from app.core.settings import Settings
from app.core.task_queue import CLEANUP_TOKENS_TASK, MAINTENANCE_QUEUE, REQUEST_ID_TASK_HEADER
from app.core.telemetry import Telemetry
from tests.mail import free_port

RunWorker = Callable[..., AbstractContextManager[Celery]]
BEARER = "eyJhbGciOiJIUzI1NiJ9.bearer-secret-value"
COOKIE = "cookie-secret-value"
PASSWORD = "password-secret-value"
SECRETS = (BEARER, COOKIE, PASSWORD)


class CapturingTransport(Transport):
    """Keeps every envelope instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        return [dict(event) for envelope in self.envelopes if (event := envelope.get_event()) is not None]


@pytest.fixture
def transport() -> Iterator[CapturingTransport]:
    yield CapturingTransport()
    sentry_sdk.get_client().close()


@post("/broken", exclude_from_auth=True)  # the bearer is only sent to be scrubbed
async def broken(request: Request[Any, Any, Any]) -> None:
    body = await request.json()  # a local holding the password, as a real handler's would
    raise RuntimeError(f"failed on a body of {len(body)} members")


@pytest.mark.usefixtures("empty_database")
def test_an_unhandled_error_is_reported_with_its_request_id_and_no_secret(
    settings: Settings, transport: CapturingTransport
) -> None:
    telemetry = Telemetry(error_reports=ErrorReports(settings, "web", transport=transport))
    app = create_app(settings, telemetry=telemetry)
    app.register(broken)
    with TestClient(app=app) as client:
        client.cookies.set("session", COOKIE)
        response = client.post(
            "/broken",
            json={"email": "someone@example.com", "password": PASSWORD, "new_password": PASSWORD},
            headers={"Authorization": f"Bearer {BEARER}", "X-Request-ID": "broken-1"},
        )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["request_id"] == "broken-1"
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    telemetry.flush()
    [event] = transport.events()
    assert event["tags"]["request_id"] == "broken-1"
    assert event["tags"]["route"] == "/broken"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    sent = b"".join(envelope.serialize() for envelope in transport.envelopes)
    assert not [secret for secret in SECRETS if secret.encode() in sent]


def test_a_task_failing_unexpectedly_is_reported_with_its_request_id(
    settings: Settings, run_worker: RunWorker, transport: CapturingTransport
) -> None:
    telemetry = Telemetry(error_reports=ErrorReports(settings, "worker", transport=transport))
    # The database is gone (nothing listens there): the cleanup's first statement raises.
    unreachable = f"postgresql+psycopg://inkwell@127.0.0.1:{free_port()}/inkwell"
    with run_worker(telemetry=telemetry, database_url=unreachable) as worker_app:
        worker_app.send_task(
            CLEANUP_TOKENS_TASK, queue=MAINTENANCE_QUEUE, headers={REQUEST_ID_TASK_HEADER: "cleanup-1"}
        )
        deadline = time.monotonic() + 15
        while not transport.events():
            assert time.monotonic() < deadline, "no error reported"
            time.sleep(0.05)
    [event] = transport.events()
    assert event["tags"]["request_id"] == "cleanup-1"
    assert event["tags"]["task"] == CLEANUP_TOKENS_TASK
    assert event["tags"]["role"] == "worker"
    assert event["exception"]["values"][-1]["type"] == "OperationalError"
