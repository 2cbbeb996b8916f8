"""``GET /metrics``: the scrape-time gauges (queues, outbox, cleanup) beside the HTTP metrics, and outages."""

from __future__ import annotations

import re

import pytest
import redis
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from app.application import create_app
from tests.conftest import make_settings
from tests.factories import Accounts
from tests.servers import free_port


def _sample(text: str, name: str, labels: str = "") -> float | None:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_queue_depth_and_outbox_backlog_are_gauges(
    client: TestClient[Litestar], accounts: Accounts, redis_client: redis.Redis
) -> None:
    redis_client.flushdb()
    accounts.register()  # two emails, published, and no worker to take them

    text = client.get("/metrics").text
    assert _sample(text, "inkwell_broker_up") == 1
    assert _sample(text, "celery_queue_length", '{queue_name="emails"}') == 2
    assert _sample(text, "celery_queue_length", '{queue_name="maintenance"}') == 0
    waited = _sample(text, "inkwell_queue_oldest_message_age_seconds", '{queue_name="emails"}')
    assert waited is not None
    assert 0 <= waited < 60
    assert _sample(text, "inkwell_queue_oldest_message_age_seconds", '{queue_name="maintenance"}') == 0
    assert _sample(text, "inkwell_queue_unacked") == 0
    assert _sample(text, "inkwell_database_up") == 1
    assert _sample(text, "inkwell_outbox_emails", '{status="pending"}') == 2
    assert _sample(text, "inkwell_outbox_emails", '{status="failed"}') == 0
    age = _sample(text, "inkwell_outbox_oldest_pending_age_seconds")
    assert age is not None
    assert 0 <= age < 60
    assert "# TYPE celery_queue_length gauge" in text
    assert _sample(text, "inkwell_last_run_timestamp_seconds", '{schedule="token_cleanup"}') is None  # never ran
    assert _sample(text, "inkwell_run_interval_seconds", '{schedule="token_cleanup"}') == 3600
    # The HTTP metrics are still there, by route template.
    assert 'inkwell_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"}' in text


def test_a_dead_broker_and_database_are_gauges_at_zero_not_errors() -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = make_settings(
        f"postgresql+psycopg://postgres@{closed}/inkwell",
        REDIS_URL=f"redis://{closed}/0",
        DATABASE_CONNECT_TIMEOUT_SECONDS="1",
    )
    with TestClient(app=create_app(settings)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert _sample(response.text, "inkwell_broker_up") == 0
    assert _sample(response.text, "inkwell_database_up") == 0
    assert _sample(response.text, "inkwell_task_metrics_available") == 0
    assert "celery_queue_length" not in response.text
    assert "celery_task_sent_total" not in response.text
    assert "inkwell_outbox_emails" not in response.text


@pytest.mark.usefixtures("client")  # empties the tables afterwards
def test_the_embedded_broker_has_no_queue_gauges(database_url: str, migrated: Engine) -> None:
    with TestClient(app=create_app(make_settings(database_url, REDIS_URL=""))) as client:
        text = client.get("/metrics").text
    assert "inkwell_broker_up" not in text
    assert _sample(text, "inkwell_task_metrics_available") == 0
    assert not re.search(r"^celery_", text, re.MULTILINE)
    assert 'job="beat"' not in text
    assert _sample(text, "inkwell_database_up") == 1
