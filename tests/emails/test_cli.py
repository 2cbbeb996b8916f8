"""``inkwell emails failed`` and ``inkwell emails retry``, run as an operator runs them (``heroku run``): a new
process configured by its environment alone, on the real database and broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
import redis
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from app.core.settings import Settings
from app.core.task_metrics import PUBLISHED_AT_HEADER
from app.core.task_queue import EMAILS_QUEUE
from app.emails.models import EmailStatus
from tests.conftest import process_environment
from tests.emails.outbox import fail_for_good, published_sends, rows_of
from tests.factories import Accounts, unique_email

INKWELL = Path(sys.executable).parent / "inkwell"


def _inkwell(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The narrowest terminal the table is laid out for.
    env = process_environment(settings, COLUMNS="80")
    return subprocess.run(
        [str(INKWELL), "emails", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def failed_twice(
    client: TestClient[Litestar], accounts: Accounts, settings: Settings, migrated: Engine
) -> tuple[str, str, datetime]:
    """Two accounts whose emails failed for good, one after the other, and a time between the two failures."""
    first, second = unique_email("ada"), unique_email("bea")
    accounts.register(first)
    accounts.register(second)
    fail_for_good(migrated, settings, first)
    time.sleep(0.01)
    between = datetime.now(UTC)
    fail_for_good(migrated, settings, second)
    return first, second, between


def test_failed_prints_a_table_of_failed_emails_newest_first_with_masked_recipients(
    settings: Settings, migrated: Engine, failed_twice: tuple[str, str, datetime], tmp_path: Path
) -> None:
    first, second, between = failed_twice
    result = _inkwell(settings, tmp_path, "failed")
    assert result.returncode == 0, result.stderr
    assert "4 of 4 failed emails, newest first" in result.stdout
    ids_newest_first = [str(row.id) for row in reversed(rows_of(migrated, first) + rows_of(migrated, second))]
    positions = [result.stdout.index(row_id) for row_id in ids_newest_first]
    assert positions == sorted(positions)
    for template in ("welcome", "verify_email"):
        assert template in result.stdout
    assert {"a***@example.com", "b***@example.com"} <= set(result.stdout.split())
    assert first not in result.stdout
    assert second not in result.stdout
    assert "ConnectionRefusedError" in result.stdout

    newest = _inkwell(settings, tmp_path, "failed", "--limit", "1")
    assert "1 of 4 failed emails" in newest.stdout
    assert ids_newest_first[0] in newest.stdout
    recent = _inkwell(settings, tmp_path, "failed", "--since", between.isoformat())
    assert "2 of 2 failed emails" in recent.stdout
    assert "b***@example.com" in recent.stdout
    assert "a***@example.com" not in recent.stdout
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()  # no offset: UTC
    assert _inkwell(settings, tmp_path, "failed", "--since", later).stdout.strip() == "no failed emails"
    bad = _inkwell(settings, tmp_path, "failed", "--since", "last tuesday")
    assert bad.returncode == 2
    assert "is not an ISO 8601 date or time" in bad.stderr


def test_retry_by_id_since_a_time_and_all(
    settings: Settings,
    migrated: Engine,
    redis_client: redis.Redis,
    failed_twice: tuple[str, str, datetime],
    tmp_path: Path,
) -> None:
    first, second, between = failed_twice
    one = rows_of(migrated, first)[0]
    result = _inkwell(settings, tmp_path, "retry", str(one.id))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "retried 1 failed email"
    retried = rows_of(migrated, first)[0]
    assert (retried.status, retried.attempts, retried.last_error) == (EmailStatus.PENDING, 0, None)
    assert published_sends(redis_client, one.id) == 2  # at registration, and by the command after its commit
    newest = json.loads(cast("bytes", redis_client.lindex(EMAILS_QUEUE, 0)))
    assert newest["headers"]["argsrepr"] == repr([str(one.id)])
    assert newest["headers"][PUBLISHED_AT_HEADER] > between.timestamp()  # stamped, so its queue wait is measured

    unknown = "0193a7c0-0000-7000-8000-000000000000"
    mixed = _inkwell(settings, tmp_path, "retry", str(one.id), unknown)
    assert mixed.returncode == 1
    assert mixed.stdout.strip() == "retried 0 failed emails"
    assert f"{one.id}: The email is pending; only failed emails can be retried" in mixed.stderr
    assert f"{unknown}: no such email" in mixed.stderr
    assert _inkwell(settings, tmp_path, "retry", "not-an-id").returncode == 2

    since = _inkwell(settings, tmp_path, "retry", "--since", between.isoformat())
    assert since.stdout.strip() == "retried 2 failed emails"
    assert {row.status for row in rows_of(migrated, second)} == {EmailStatus.PENDING}
    everything = _inkwell(settings, tmp_path, "retry", "--all")
    assert everything.stdout.strip() == "retried 1 failed email"
    assert {row.status for row in rows_of(migrated, first)} == {EmailStatus.PENDING}
    assert all(published_sends(redis_client, row.id) == 2 for row in rows_of(migrated, first))

    for args in ((), ("--all", str(one.id)), ("--all", "--since", between.isoformat())):
        refused = _inkwell(settings, tmp_path, "retry", *args)
        assert refused.returncode == 2
        assert "exactly one of them" in refused.stderr
