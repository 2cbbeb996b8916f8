"""``GET /api/v1/ops/queues`` over HTTP on both databases, with a real Redis, a real worker and Redis cut away."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery import Celery
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.application import create_app
from app.core.settings import Settings
from app.core.task_metrics import TaskMetricsRecorder
from app.maintenance.models import MaintenanceRun
from app.maintenance.service import CleanupService, OutboxRelayService
from app.ops.broker import DEADLINE_SECONDS
from tests.conftest import make_settings
from tests.factories import API, Accounts
from tests.proxy import TcpRelay

QUEUES = f"{API}/ops/queues"

# What a cleanup of an empty database counts, table by table.
NOTHING_DELETED = dict.fromkeys(
    (
        "refresh_token",
        "login_session",
        "one_time_token",
        "email_outbox",
        "security_event",
        "sign_in_throttle",
        "idempotency_key",
    ),
    0,
)


@pytest.fixture
def empty_broker(redis_client: redis.Redis) -> redis.Redis:
    redis_client.flushdb()
    return redis_client


def test_only_superusers_see_the_queues(client: TestClient[Litestar], accounts: Accounts) -> None:
    assert client.get(QUEUES).status_code == 401
    assert client.get(QUEUES, headers=accounts.user().headers).status_code == 403
    assert client.get(QUEUES, headers=accounts.superuser().headers).status_code == 200


def test_published_emails_wait_in_the_queue_while_no_worker_runs(
    client: TestClient[Litestar], accounts: Accounts, empty_broker: redis.Redis
) -> None:
    admin = accounts.superuser()
    accounts.register()
    accounts.register()  # a welcome and a verification email each

    body = client.get(QUEUES, headers=admin.headers).json()
    broker = body["broker"]
    assert (broker["status"], broker["queues"], broker["unacked"]) == ("ok", {"emails": 4, "maintenance": 0}, 0)
    # The oldest of the four has waited since its registration: a moment, not minutes, and not "unknown".
    assert 0 <= broker["oldest_message_age_seconds"]["emails"] < 60
    assert broker["oldest_message_age_seconds"]["maintenance"] == 0
    assert body["workers"]["status"] == "none"
    assert body["workers"]["online"] == []
    outbox = body["outbox"]
    assert (outbox["pending"], outbox["sent"], outbox["failed"]) == (4, 0, 0)
    assert 0 <= outbox["oldest_pending_age_seconds"] < 60
    assert outbox["oldest_pending_at"] is not None
    assert body["token_cleanup"] is None
    # Not yet run is not stale: a fresh deploy's hourly cleanup runs an hour after beat starts.
    never_ran = {"finished_at": None, "age_seconds": None, "stale": False, "counts": None}
    assert body["jobs"] == {
        "outbox_relay": {**never_ran, "interval_seconds": 30.0},
        "token_cleanup": {**never_ran, "interval_seconds": 3600.0},
        "beat": {**never_ran, "interval_seconds": 30.0},  # it dispatches the relay, its most frequent entry
    }


def test_a_running_worker_is_online_and_drains_the_queue(
    client: TestClient[Litestar], accounts: Accounts, worker: Celery
) -> None:
    admin = accounts.superuser()
    accounts.register()
    deadline = time.monotonic() + 15
    while (body := client.get(QUEUES, headers=admin.headers).json())["outbox"]["sent"] < 2:
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    assert body["workers"]["status"] == "ok"
    assert len(body["workers"]["online"]) == 1
    assert body["broker"]["queues"] == {"emails": 0, "maintenance": 0}
    assert body["outbox"]["pending"] == 0
    assert body["outbox"]["oldest_pending_age_seconds"] is None


def test_the_last_token_cleanup_is_reported(
    client: TestClient[Litestar], accounts: Accounts, settings: Settings, migrated: Engine
) -> None:
    admin = accounts.superuser()
    with Session(migrated) as session:
        CleanupService(session, settings).run()
    cleanup = client.get(QUEUES, headers=admin.headers).json()["token_cleanup"]
    # The column is counts now; the field clients read is still deleted.
    assert cleanup["deleted"] == NOTHING_DELETED
    assert cleanup["started_at"] <= cleanup["finished_at"]


def test_each_job_reports_its_last_run_and_goes_stale_after_three_intervals(
    client: TestClient[Litestar], accounts: Accounts, settings: Settings, migrated: Engine, empty_broker: redis.Redis
) -> None:
    admin = accounts.superuser()
    with Session(migrated) as session:
        CleanupService(session, settings).run()
        OutboxRelayService(session, settings).run(lambda email: None)
    recorder = TaskMetricsRecorder.from_settings(settings)
    recorder.ran("beat")  # what beat does each time it dispatches a scheduled task
    recorder.flush()
    jobs = client.get(QUEUES, headers=admin.headers).json()["jobs"]
    assert set(jobs) == {"outbox_relay", "token_cleanup", "beat"}
    assert jobs["beat"]["stale"] is False
    assert 0 <= jobs["beat"]["age_seconds"] < 10
    assert jobs["outbox_relay"]["counts"] == {"relayed": 0}
    assert jobs["token_cleanup"]["counts"] == NOTHING_DELETED
    for job, interval in {"outbox_relay": 30.0, "token_cleanup": 3600.0}.items():
        assert jobs[job]["interval_seconds"] == interval
        assert jobs[job]["finished_at"] is not None
        assert 0 <= jobs[job]["age_seconds"] < 10
        assert jobs[job]["stale"] is False

    # The relay last finished a little more than three of its intervals ago, the cleanup a little less.
    now = datetime.now(UTC)
    with Session(migrated) as session:
        for job, age in {"outbox_relay": 3 * 30 + 5, "token_cleanup": 3 * 3600 - 60}.items():
            finished_at = now - timedelta(seconds=age)
            session.execute(
                update(MaintenanceRun)
                .where(MaintenanceRun.job == job)
                .values(started_at=finished_at, finished_at=finished_at)
            )
        session.commit()
    jobs = client.get(QUEUES, headers=admin.headers).json()["jobs"]
    assert (jobs["outbox_relay"]["stale"], jobs["token_cleanup"]["stale"]) == (True, False)
    assert 95 <= jobs["outbox_relay"]["age_seconds"] < 105


@pytest.fixture
def relayed_redis_client(
    database_url: str, migrated: Engine, empty_broker: redis.Redis
) -> Iterator[tuple[TestClient[Litestar], TcpRelay]]:
    """An app whose Redis (broker and rate limits) sits behind a relay the test can cut."""
    host, port = (
        empty_broker.connection_pool.connection_kwargs["host"],
        empty_broker.connection_pool.connection_kwargs["port"],
    )
    db = empty_broker.connection_pool.connection_kwargs["db"]
    with TcpRelay(host, port) as relay:
        settings = make_settings(database_url, REDIS_URL=f"redis://127.0.0.1:{relay.port}/{db}")
        with TestClient(app=create_app(settings)) as client:
            yield client, relay


def test_with_redis_cut_the_report_still_answers_quickly_and_says_so(
    relayed_redis_client: tuple[TestClient[Litestar], TcpRelay], accounts: Accounts
) -> None:
    client, relay = relayed_redis_client
    admin = accounts.superuser()
    assert client.get(QUEUES, headers=admin.headers).json()["broker"]["status"] == "ok"

    relay.cut()
    started = time.monotonic()
    response = client.get(QUEUES, headers=admin.headers)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    body = response.json()
    assert body["broker"]["status"] == "unavailable"
    assert body["broker"]["detail"]
    assert body["workers"]["status"] == "unavailable"
    assert body["outbox"]["pending"] == 0  # the database part is unaffected
    assert elapsed < 2 * DEADLINE_SECONDS

    relay.restore()
    assert client.get(QUEUES, headers=admin.headers).json()["broker"]["status"] == "ok"


@pytest.mark.usefixtures("client")  # empties the tables afterwards
def test_the_embedded_broker_cannot_report_depths(database_url: str, migrated: Engine) -> None:
    settings = make_settings(database_url, REDIS_URL="")
    with TestClient(app=create_app(settings)) as client:
        admin = Accounts(client, settings, migrated).superuser()
        body = client.get(QUEUES, headers=admin.headers).json()
    assert body["broker"]["status"] == "not_available"
    assert "embedded" in body["broker"]["detail"]
    assert body["workers"]["status"] == "not_available"


def test_the_report_is_documented(client: TestClient[Litestar]) -> None:
    operation = client.get("/schema/openapi.json").json()["paths"][QUEUES]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("QueuesReport")
    assert "ops" in operation["tags"]
