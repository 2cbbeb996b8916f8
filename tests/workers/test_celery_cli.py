"""The real entry points: ``celery -A workers worker -B`` in a subprocess, configured from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
import redis
from litestar.testing import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.application import create_app
from app.core.settings import Settings
from app.emails.models import EmailOutbox, EmailStatus
from tests.conftest import REDIS_URL
from tests.factories import API, unique_email
from tests.mail import SMTPServer, free_port
from workers.config import BEAT_KEY_PREFIX


# One subprocess test is enough to prove the entry points; PostgreSQL is what production runs.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_emails_written_while_the_broker_was_down_are_sent_by_beats_relay(
    settings: Settings,
    migrated: Engine,
    smtp_server: SMTPServer,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    redis_client.flushdb()
    dead_broker = msgspec.structs.replace(
        settings, redis_url=f"redis://127.0.0.1:{free_port()}/14", outbox_relay_after_seconds=0.5
    )
    emails = [unique_email("queued") for _ in range(2)]
    with TestClient(app=create_app(dead_broker)) as client:
        for email in emails:
            response = client.post(f"{API}/auth/register", json={"email": email, "password": "long enough"})
            assert response.status_code == 201

    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "REDIS_URL": REDIS_URL,
        "SMTP_URL": smtp_server.url,
        "OUTBOX_RELAY_INTERVAL_SECONDS": "0.5",
        "OUTBOX_RELAY_AFTER_SECONDS": "0.5",
    }
    command = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-B", "--pool", "solo", "--loglevel", "INFO"]
    worker = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for email in emails:
            smtp_server.wait_for_email(email, "welcome", timeout=30)
            smtp_server.wait_for_email(email, "verify", timeout=30)
        deadline = time.monotonic() + 10
        with Session(migrated) as session:
            while {row.status for row in session.scalars(select(EmailOutbox))} != {EmailStatus.SENT}:
                assert time.monotonic() < deadline
                time.sleep(0.1)
                session.expire_all()
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
    assert len(smtp_server.mailbox.messages) == 4, output
    assert "relayed" in output
    # On Redis, beat keeps its schedule there (RedBeat), not in a file on the platform's ephemeral disk.
    assert redis_client.exists(f"{BEAT_KEY_PREFIX}relay-outbox") == 1
    assert not any((tmp_path / "var").glob("celerybeat-schedule*"))
