"""Redis going away while the app runs: reads, writes and sign-ins go on, emails wait in the outbox, and every one of
them is delivered once Redis is back. Redis sits behind a TCP relay the test cuts and restores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
import redis
from celery import Celery
from litestar.testing import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.application import create_app
from app.core.settings import Settings
from app.core.task_queue import MAINTENANCE_QUEUE, RELAY_OUTBOX_TASK
from app.emails.models import EmailOutbox, EmailStatus
from tests.conftest import make_settings
from tests.factories import API, unique_email
from tests.mail import SMTPServer
from tests.proxy import TcpRelay

RunWorker = Callable[..., AbstractContextManager[Celery]]
REQUEST_BUDGET_SECONDS = 2
PASSWORD = "outage-password"


def _statuses(engine: Engine, recipients: list[str]) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(EmailOutbox.status).where(EmailOutbox.recipient.in_(recipients))))


@pytest.mark.usefixtures("client")  # empties the tables afterwards
def test_the_api_keeps_serving_through_a_redis_outage_and_the_emails_follow(
    settings: Settings,
    migrated: Engine,
    redis_client: redis.Redis,
    smtp_server: SMTPServer,
    run_worker: RunWorker,
) -> None:
    redis_client.flushdb()
    kwargs = redis_client.connection_pool.connection_kwargs
    with TcpRelay(kwargs["host"], kwargs["port"]) as relay:
        app_settings = make_settings(
            settings.database_url,
            REDIS_URL=f"redis://127.0.0.1:{relay.port}/{kwargs['db']}",
            RATE_LIMITS_ENABLED="true",  # the limiter's Redis is cut too; it must fall back, not fail
            OUTBOX_RELAY_AFTER_SECONDS="0.5",
        )
        with TestClient(app=create_app(app_settings)) as client:
            before = unique_email("before")
            assert client.post(f"{API}/auth/register", json={"email": before, "password": PASSWORD}).status_code == 201

            relay.cut()
            during = [unique_email("during") for _ in range(2)]
            outcomes = []
            for method, path, kwargs_ in [
                *[("POST", f"{API}/auth/register", {"json": {"email": e, "password": PASSWORD}}) for e in during],
                ("POST", f"{API}/auth/login", {"data": {"username": during[0], "password": PASSWORD}}),
                ("POST", f"{API}/auth/forgot-password", {"json": {"email": before}}),
                ("GET", f"{API}/posts", {}),
            ]:
                started = time.monotonic()
                response = client.request(method, path, **kwargs_)  # type: ignore[arg-type]
                outcomes.append((path, response.status_code, time.monotonic() - started))
                if path.endswith("/login"):
                    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
            post = client.post(f"{API}/posts", headers=headers, json={"title": "Offline", "content": "Still here."})
            outcomes.append(("/posts", post.status_code, 0.0))
            me = client.get(f"{API}/users/me", headers=headers)
            outcomes.append(("/users/me", me.status_code, 0.0))
            assert [status for _, status, _ in outcomes] == [201, 201, 200, 202, 200, 201, 200], outcomes
            assert all(elapsed < REQUEST_BUDGET_SECONDS for _, _, elapsed in outcomes), outcomes
            ready = client.get("/health/ready")
            assert (ready.status_code, ready.json()["broker"]["status"]) == (503, "unavailable")
            assert set(_statuses(migrated, during)) == {EmailStatus.PENDING}

            relay.restore()
            after = unique_email("after")
            assert client.post(f"{API}/auth/register", json={"email": after, "password": PASSWORD}).status_code == 201
            queued = redis_client.llen("emails")
            assert isinstance(queued, int)
            assert queued >= 2  # the publisher reconnected by itself

    recipients = [before, *during, after]
    with run_worker() as worker_app:
        time.sleep(0.6)  # past OUTBOX_RELAY_AFTER_SECONDS: what beat's next relay run finds
        worker_app.send_task(RELAY_OUTBOX_TASK, queue=MAINTENANCE_QUEUE)
        deadline = time.monotonic() + 20
        while set(_statuses(migrated, recipients)) != {EmailStatus.SENT}:
            assert time.monotonic() < deadline, _statuses(migrated, recipients)
            time.sleep(0.1)
    for email in recipients:
        smtp_server.wait_for_email(email, "welcome")
        smtp_server.wait_for_email(email, "verify")
    smtp_server.wait_for_email(before, "reset")
    assert len(_statuses(migrated, recipients)) == 9
