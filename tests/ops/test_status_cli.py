"""``inkwell ops status``: the ops report in a terminal, run as a process on the real database and Redis."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
import redis
from celery import Celery
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.core.task_metrics import TaskMetricsRecorder
from app.maintenance.service import CleanupService, OutboxRelayService
from app.ops.broker import DEADLINE_SECONDS
from app.ops.schemas import QueuesReport
from tests.conftest import process_environment
from tests.factories import API, Accounts
from tests.servers import free_port

INKWELL = Path(sys.executable).with_name("inkwell")


def ops_status(settings: Settings, cwd: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INKWELL), "ops", "status", *args],
        cwd=cwd,
        env=process_environment(settings, COLUMNS="200", **environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def table_rows(output: str) -> dict[str, tuple[str, str]]:
    """``part: (status, details)`` from rich's table (a cell that wraps continues on lines with no part)."""
    rows: dict[str, tuple[str, str]] = {}
    part = ""
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0]:
            part = cells[0]
            rows[part] = (cells[1], cells[2])
        else:
            status, details = rows[part]
            rows[part] = (f"{status} {cells[1]}".strip(), f"{details} {cells[2]}".strip())
    return rows


@pytest.fixture
def empty_broker(redis_client: redis.Redis) -> redis.Redis:
    redis_client.flushdb()
    return redis_client


@pytest.mark.usefixtures("empty_broker")
def test_waiting_emails_are_shown_and_no_worker_is_exit_status_1(
    accounts: Accounts, settings: Settings, tmp_path: Path
) -> None:
    accounts.register()  # a welcome and a verification email, published, and no worker to take them

    result = ops_status(settings, tmp_path)
    assert result.returncode == 1, result.stderr
    rows = table_rows(result.stdout)
    assert rows["broker"] == ("ok", "0 unacked")
    assert rows["queue emails"] == ("", "2 waiting")
    assert rows["queue maintenance"] == ("", "0 waiting")
    assert rows["workers"][0] == "none"
    assert rows["outbox"][1].startswith("2 pending, the oldest for ")
    assert rows["outbox"][1].endswith("; 0 sent; 0 failed")
    assert rows["token cleanup"] == ("", "never ran")
    assert rows["job beat"] == ("", "not yet run, every 30 s")
    assert result.stderr.strip().splitlines()[-1] == "inkwell: needs attention: workers: none"


def test_every_part_ok_is_exit_status_0(
    accounts: Accounts,
    client: TestClient[Litestar],
    worker: Celery,
    settings: Settings,
    migrated: Engine,
    tmp_path: Path,
) -> None:
    with Session(migrated) as session:  # every scheduled job has just run
        CleanupService(session, settings).run()
        OutboxRelayService(session, settings).run(lambda email: None)
    recorder = TaskMetricsRecorder.from_settings(settings)
    recorder.ran("beat")
    recorder.flush()
    accounts.register()
    admin = accounts.superuser()
    deadline = time.monotonic() + 15
    while (from_api := client.get(f"{API}/ops/queues", headers=admin.headers).json())["outbox"]["sent"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)

    result = ops_status(settings, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert rows["broker"][0] == "ok"
    assert rows["workers"][0] == "ok"
    assert rows["workers"][1] == ", ".join(from_api["workers"]["online"])
    assert rows["queue emails"] == ("", "0 waiting")
    assert rows["outbox"] == ("", "0 pending; 2 sent; 0 failed")
    assert rows["job beat"][0] == "ok"
    assert "needs attention" not in result.stderr


@pytest.mark.usefixtures("empty_broker")
def test_json_is_the_report_the_api_answers(
    accounts: Accounts, client: TestClient[Litestar], settings: Settings, tmp_path: Path
) -> None:
    accounts.register()
    from_api = client.get(f"{API}/ops/queues", headers=accounts.superuser().headers).json()

    result = ops_status(settings, tmp_path, "--json")
    assert result.returncode == 1
    from_cli = msgspec.json.decode(result.stdout)
    msgspec.convert(from_cli, QueuesReport)  # the same struct, field for field
    volatile = {"checked_at", "outbox", "broker"}
    assert {key: value for key, value in from_cli.items() if key not in volatile} == {
        key: value for key, value in from_api.items() if key not in volatile
    }
    ages = "oldest_message_age_seconds"  # they grow between the two readings
    assert {k: v for k, v in from_cli["broker"].items() if k != ages} == {
        k: v for k, v in from_api["broker"].items() if k != ages
    }
    assert from_cli["broker"][ages].keys() == from_api["broker"][ages].keys()
    counts = ("pending", "sent", "failed", "oldest_pending_at")
    assert {key: from_cli["outbox"][key] for key in counts} == {key: from_api["outbox"][key] for key in counts}


@pytest.mark.usefixtures("client")
def test_a_closed_broker_port_is_reported_unavailable_quickly(settings: Settings, tmp_path: Path) -> None:
    started = time.monotonic()
    result = ops_status(settings, tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    rows = table_rows(result.stdout)
    assert rows["broker"][0] == "unavailable"
    assert "Connection refused" in rows["broker"][1]
    assert rows["workers"][0] == "unavailable"
    assert rows["outbox"] == ("", "0 pending; 0 sent; 0 failed")  # the database part is unaffected
    assert "broker: unavailable" in result.stderr
    # Both broker probes give up within their deadline; the rest is starting Python.
    assert elapsed < 2 * DEADLINE_SECONDS + 10


def test_an_unreachable_database_is_one_line_and_exit_status_1(settings: Settings, tmp_path: Path) -> None:
    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/inkwell"
    result = ops_status(settings, tmp_path, DATABASE_URL=closed, DATABASE_CONNECT_TIMEOUT_SECONDS="1")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: database {closed}: connection failed")
