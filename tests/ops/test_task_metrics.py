"""Task metrics on ``/metrics``: counted by a real worker and publisher, shared through Redis, read by any web app."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from celery import Celery
from litestar import Litestar
from litestar.testing import TestClient

from app.application import create_app
from app.core.settings import Settings
from app.core.task_metrics import (
    COUNTERS_KEY,
    FLUSH_SECONDS,
    PUBLISHED_AT_HEADER,
    WORKERS_KEY,
    TaskMetricsRecorder,
    publisher_hostname,
    ready_at,
)
from app.core.task_queue import EMAILS_QUEUE, SEND_EMAIL_TASK
from tests.conftest import installed, make_settings
from tests.factories import Accounts
from tests.servers import free_port, start_redis, stop

SEND = SEND_EMAIL_TASK


def _samples(text: str, metric: str, /, **labels: str) -> list[float]:
    """Every sample of ``metric`` whose labels include ``labels``."""
    found = []
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(metric)}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{key}="{value}"' in (match.group(1) or "") for key, value in labels.items()):
            found.append(float(match.group(2)))
    return found


def _total(text: str, metric: str, /, **labels: str) -> float:
    return sum(_samples(text, metric, **labels))


def _wait_for_metrics(client: TestClient[Litestar], done: Callable[[str], bool], timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = client.get("/metrics").text
        if done(text):
            return text
        assert time.monotonic() < deadline, text
        time.sleep(0.2)


def test_a_worker_counts_every_step_of_its_tasks(
    client: TestClient[Litestar], accounts: Accounts, worker: Celery
) -> None:
    accounts.register()  # a welcome and a verification email: two send_email tasks, published by this process

    text = _wait_for_metrics(client, lambda t: _total(t, "celery_task_succeeded_total", name=SEND) == 2)
    labels = {"name": SEND, "queue_name": EMAILS_QUEUE}
    assert _samples(text, "celery_task_sent_total", hostname=publisher_hostname(), **labels) == [2]
    for event in ("received", "started", "succeeded"):
        assert _total(text, f"celery_task_{event}_total", **labels) == 2, event
    for event in ("failed", "retried", "rejected", "revoked"):  # shown at 0 from the first receipt
        assert _samples(text, f"celery_task_{event}_total", **labels) == [0], event
    assert _total(text, "celery_task_runtime_count", **labels) == 2
    assert _total(text, "celery_task_runtime_sum", **labels) > 0
    assert _total(text, "celery_task_runtime_bucket", le="+Inf", **labels) == 2
    assert _total(text, "celery_task_queue_wait_time_count", **labels) == 2
    # Waited from the registration's commit to the worker: under a minute, so within the 60 s bucket.
    assert _total(text, "celery_task_queue_wait_time_bucket", le="60.0", **labels) == 2

    workers = _wait_for_metrics(client, lambda t: _samples(t, "celery_worker_up") == [1])
    hostname = re.search(r'celery_worker_up\{hostname="([^"]+)"\}', workers)
    assert hostname is not None
    assert _samples(workers, "celery_worker_tasks_active", hostname=hostname.group(1)) == [0]
    # The test worker consumes both queues with its one (solo) process.
    assert _samples(workers, "celery_active_worker_count", queue_name=EMAILS_QUEUE) == [1]
    assert _samples(workers, "celery_active_process_count", queue_name=EMAILS_QUEUE) == [1]
    assert _samples(workers, "inkwell_task_metrics_available") == [1]


def test_a_task_that_raises_is_counted_failed_with_its_exception_class(
    client: TestClient[Litestar], worker: Celery
) -> None:
    worker.send_task(SEND, args=["not-a-uuid"], queue=EMAILS_QUEUE)  # uuid.UUID() raises ValueError

    text = _wait_for_metrics(client, lambda t: _total(t, "celery_task_failed_total", name=SEND) == 1)
    assert _samples(text, "celery_task_failed_total", name=SEND, exception="ValueError") == [1]
    assert _total(text, "celery_task_succeeded_total", name=SEND) == 0
    assert _total(text, "celery_task_runtime_count", name=SEND) == 0  # runtime: succeeded tasks only


def test_a_countdown_is_not_counted_as_waiting(client: TestClient[Litestar], worker: Celery) -> None:
    worker.send_task(SEND, args=["not-a-uuid"], queue=EMAILS_QUEUE, countdown=2)

    text = _wait_for_metrics(client, lambda t: _total(t, "celery_task_queue_wait_time_count", name=SEND) == 1)
    # Waited from its ETA, two seconds after publishing, to its start: well under a second on an idle worker.
    assert _total(text, "celery_task_queue_wait_time_bucket", name=SEND, le="1.0") == 1


def test_a_task_is_ready_at_its_publish_time_or_its_later_eta() -> None:
    published = 1_800_000_000.0
    later = datetime.fromtimestamp(published + 30, UTC)
    assert ready_at({PUBLISHED_AT_HEADER: published, "eta": None}) == published
    assert ready_at({PUBLISHED_AT_HEADER: published, "eta": later.isoformat()}) == published + 30
    assert ready_at({PUBLISHED_AT_HEADER: published, "eta": later}) == published + 30
    earlier = datetime.fromtimestamp(published - 30, UTC).isoformat()
    assert ready_at({PUBLISHED_AT_HEADER: published, "eta": earlier}) == published
    assert ready_at({"eta": later.isoformat()}) is None  # published by something that does not stamp


def test_every_web_app_serves_the_same_totals(
    client: TestClient[Litestar], accounts: Accounts, worker: Celery, settings: Settings
) -> None:
    accounts.register()
    _wait_for_metrics(client, lambda t: _total(t, "celery_task_succeeded_total", name=SEND) == 2)

    with TestClient(app=create_app(settings)) as other:  # a second web process, as far as Redis can tell
        ours, theirs = client.get("/metrics").text, other.get("/metrics").text
    celery_lines = [line for line in ours.splitlines() if line.startswith("celery_task_")]
    assert celery_lines
    assert celery_lines == [line for line in theirs.splitlines() if line.startswith("celery_task_")]


def test_a_worker_that_stops_shows_as_down(
    client: TestClient[Litestar], run_worker: Callable[..., AbstractContextManager[Celery]]
) -> None:
    with run_worker():
        _wait_for_metrics(client, lambda t: _samples(t, "celery_worker_up") == [1])
    # A clean shutdown says so at once (0); the series ends when the worker is forgotten, ten minutes later.
    text = client.get("/metrics").text
    assert _samples(text, "celery_worker_up") == [0]
    assert _samples(text, "celery_active_worker_count", queue_name=EMAILS_QUEUE) == [0]


def test_a_silent_worker_goes_down_after_three_missed_heartbeats(
    client: TestClient[Litestar], redis_client: redis.Redis
) -> None:
    redis_client.flushdb()
    now = time.time()
    for host, seen in (("fresh", now - 2), ("silent", now - 20)):
        state = f'{{"seen":{seen},"online":true,"active":1,"processes":2,"queues":["emails"]}}'
        redis_client.hset(WORKERS_KEY, host, state)

    text = client.get("/metrics").text
    assert _samples(text, "celery_worker_up", hostname="fresh") == [1]
    assert _samples(text, "celery_worker_up", hostname="silent") == [0]
    assert _samples(text, "celery_worker_tasks_active", hostname="silent") == [0]
    assert _samples(text, "celery_active_process_count", queue_name=EMAILS_QUEUE) == [2]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis server of this test's own: its command statistics count only what the test does."""
    port = free_port()
    process = start_redis(installed("redis-server", "redis-server"), port, tmp_path)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process, 10)


def _commands_processed(client: redis.Redis) -> int:
    stats = cast("dict[str, Any]", client.info("stats"))
    return int(stats["total_commands_processed"])


def _counters(client: redis.Redis) -> dict[bytes, bytes]:
    return cast("dict[bytes, bytes]", client.hgetall(COUNTERS_KEY))


@pytest.mark.usefixtures("client")  # empties the tables afterwards
def test_a_scrape_costs_the_same_however_many_tasks_ran(database_url: str, private_redis: str) -> None:
    settings = make_settings(database_url, REDIS_URL=private_redis)
    recorder = TaskMetricsRecorder.from_settings(settings)
    observer = redis.Redis.from_url(private_redis)
    costs = []
    with TestClient(app=create_app(settings)) as client:
        for tasks in (1, 500):
            for index in range(tasks):
                recorder.count("succeeded", f"task.{index % 50}", f"host-{index % 7}", EMAILS_QUEUE)
            recorder.flush()
            before = _commands_processed(observer)
            assert client.get("/metrics").status_code == 200
            costs.append(_commands_processed(observer) - before - 1)  # less the INFO that read "before"
        assert _total(client.get("/metrics").text, "celery_task_succeeded_total") == 501
    observer.close()
    assert costs[0] == costs[1], costs


def test_counts_survive_a_redis_outage_and_never_go_backwards(private_redis: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(private_redis)
    settings = make_settings(f"sqlite:///{tmp_path}/unused.sqlite3", REDIS_URL=private_redis)
    recorder = TaskMetricsRecorder.from_settings(settings)
    recorder.count("sent", SEND, "web.1", EMAILS_QUEUE)
    time.sleep(FLUSH_SECONDS * 2)
    assert list(_counters(client).values()) == [b"1"]

    client.client_pause(3000)  # Redis stops answering for 3 s: the flushes time out
    recorder.count("sent", SEND, "web.1", EMAILS_QUEUE)
    recorder.count("sent", SEND, "web.1", EMAILS_QUEUE)
    time.sleep(FLUSH_SECONDS * 4)  # past the pause: a later flush carries what the failed ones kept
    recorder.close()
    assert list(_counters(client).values()) == [b"3"]
    client.close()


def test_a_forked_child_never_flushes_or_waits_for_its_parents_buffer(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    """Celery's prefork pool forks while the parent's flusher may hold the buffer's lock; the child's copy of that
    lock would stay locked forever, and its copy of the buffer is the parent's to flush."""
    redis_client.flushdb()
    recorder = TaskMetricsRecorder.from_settings(make_settings(f"sqlite:///{tmp_path}/unused.sqlite3"))
    recorder.count("sent", SEND, "web.1", EMAILS_QUEUE)
    with recorder._lock:  # as if the parent's flusher were mid-flush at the fork
        pid = os.fork()
        if pid == 0:  # the child: flushing at its exit must return at once, sending nothing
            recorder.flush()
            os._exit(0)
    deadline = time.monotonic() + 10
    while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the child's flush waited for its parent's lock")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(waited[1]) == 0
    recorder.close()
    assert [int(value) for value in _counters(redis_client).values()] == [1]  # once, by the parent
