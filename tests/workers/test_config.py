"""The workers' configuration: reliability settings, queues, schedule and broker choice."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from app.core.settings import load_settings
from app.core.task_queue import CLEANUP_TOKENS_TASK, RELAY_OUTBOX_TASK, SEND_EMAIL_TASK, CeleryTaskQueue
from tests.conftest import make_settings
from tests.mail import free_port
from workers.celery_app import create_celery_app
from workers.config import CLEANUP_TIME_LIMIT, build_config


def test_reliability_settings() -> None:
    config = build_config(make_settings("sqlite://", EMAIL_RETRY_BACKOFF_MAX_SECONDS="7200"))
    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["accept_content"] == ["json"]
    assert config["task_serializer"] == "json"
    assert config["task_soft_time_limit"] < config["task_time_limit"]
    # Redis must not redeliver a retry that is still waiting for its countdown, nor a running task.
    assert config["broker_transport_options"]["visibility_timeout"] > 7200 + CLEANUP_TIME_LIMIT
    assert {queue.name: queue.routing_key for queue in config["task_queues"]} == {
        "emails": "emails",
        "maintenance": "maintenance",
    }
    assert config["task_routes"][SEND_EMAIL_TASK] == {"queue": "emails"}


def test_beat_schedule_comes_from_the_settings() -> None:
    config = build_config(make_settings("sqlite://", OUTBOX_RELAY_INTERVAL_SECONDS="15"))
    schedule = {entry["task"]: entry for entry in config["beat_schedule"].values()}
    assert schedule[RELAY_OUTBOX_TASK]["schedule"] == 15
    assert schedule[CLEANUP_TOKENS_TASK]["schedule"] == 3600
    assert all(entry["options"]["queue"] == "maintenance" for entry in schedule.values())


def test_on_redis_beat_schedules_through_redbeat_behind_a_lock() -> None:
    settings = make_settings("sqlite://", REDIS_URL="redis://127.0.0.1:6379/3", BEAT_LOCK_TIMEOUT_SECONDS="10")
    config = build_config(settings)
    assert config["beat_scheduler"] == "workers.beat:Scheduler"
    assert config["redbeat_redis_url"] == "redis://127.0.0.1:6379/3"
    assert config["redbeat_key_prefix"] == "inkwell:beat:"
    assert config["redbeat_redis_use_ssl"] is None  # redis://: no TLS
    # The lock outlives several ticks, each of which extends it.
    assert config["redbeat_lock_timeout"] == 10
    assert config["beat_max_loop_interval"] == 2
    assert build_config(make_settings("sqlite://"))["redbeat_lock_timeout"] == 25  # takeover within 30 s
    # Each tick is dropped if no worker took it before the next one (the same entries as on the file scheduler).
    relay = config["beat_schedule"]["relay-outbox"]
    assert relay["options"] == {"queue": "maintenance", "expires": settings.outbox_relay_interval_seconds}


def test_without_redis_the_broker_is_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({}, env_file=None)
    assert settings.broker_url == "sqla+sqlite:///var/celery-broker.sqlite3"
    config = build_config(settings)
    assert config["broker_transport_options"] == {}
    assert config["worker_enable_remote_control"] is False
    assert config["worker_send_task_events"] is False  # events need fanout too
    assert "beat_scheduler" not in config  # Celery's file scheduler, in the data folder
    assert config["beat_schedule_filename"] == "var/celerybeat-schedule"
    assert create_celery_app(settings).conf.broker_url == settings.broker_url


def test_a_dead_broker_fails_the_publish_fast() -> None:
    queue = CeleryTaskQueue(make_settings("sqlite://", REDIS_URL=f"redis://127.0.0.1:{free_port()}/14"))
    started = time.monotonic()
    assert queue.enqueue_email(uuid.uuid4()) is False
    assert time.monotonic() - started < 1


def test_task_events_soft_shutdown_and_a_shorter_visibility_timeout() -> None:
    config = build_config(
        make_settings("sqlite://", BROKER_VISIBILITY_TIMEOUT_SECONDS="2", WORKER_SOFT_SHUTDOWN_SECONDS="5")
    )
    assert config["worker_send_task_events"] is True
    assert config["task_send_sent_event"] is True
    assert config["worker_soft_shutdown_timeout"] == 5
    options = config["broker_transport_options"]
    assert options["visibility_timeout"] == 2
    # A dead worker's messages are looked for at least as often as they become visible again.
    assert (options["unacked_restore_interval"], options["unacked_restore_throttle"]) == (2, 1)
    assert build_config(make_settings("sqlite://"))["worker_soft_shutdown_timeout"] == 20
