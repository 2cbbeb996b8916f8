"""Celery's configuration, built from the same settings object as the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kombu.entity import Exchange, Queue

from app.core.redis import broker_ssl_options
from app.core.settings import DATA_DIR
from app.core.task_queue import (
    CLEANUP_TOKENS_TASK,
    EMAILS_QUEUE,
    MAINTENANCE_QUEUE,
    RELAY_OUTBOX_TASK,
    SEND_EMAIL_TASK,
)

if TYPE_CHECKING:
    from app.core.settings import Settings

__all__ = ("build_config",)

# Sending one email is a handful of SMTP round trips, each bounded by SMTP_TIMEOUT_SECONDS.
EMAIL_SOFT_TIME_LIMIT = 120
EMAIL_TIME_LIMIT = 150
# Cleanup deletes in small batches; a large backlog may take minutes.
CLEANUP_SOFT_TIME_LIMIT = 600
CLEANUP_TIME_LIMIT = 660
MIN_VISIBILITY_TIMEOUT = 3600
# Beat ticks at least this often per lock timeout, and each tick extends its lock: the lock lapses (and a standby beat
# may dispatch) only after this many ticks in a row were missed, not after one slow Redis answer or publish.
BEAT_TICKS_PER_LOCK_TIMEOUT = 5
# RedBeat's keys (each entry's last run, the schedule, the lock) in the broker's Redis, named as Inkwell's own.
BEAT_KEY_PREFIX = "inkwell:beat:"


def _visibility_timeout(settings: Settings) -> int:
    """Redis redelivers a message not acknowledged within this time, and a retry waiting for its countdown is
    one. It must outlast the longest countdown plus the longest task, or an email retry would be delivered twice.
    ``BROKER_VISIBILITY_TIMEOUT_SECONDS`` overrides it (tests use a short one to see a killed worker's task return).
    """
    if settings.broker_visibility_timeout_seconds is not None:
        return settings.broker_visibility_timeout_seconds
    longest_hold = settings.email_retry_backoff_max_seconds + CLEANUP_TIME_LIMIT
    return max(MIN_VISIBILITY_TIMEOUT, int(2 * longest_hold))


def _transport_options(settings: Settings) -> dict[str, Any]:
    if settings.redis_url is None:
        return {}  # the embedded SQLAlchemy transport has no visibility timeout or socket options
    visibility_timeout = _visibility_timeout(settings)
    return {
        "visibility_timeout": visibility_timeout,
        # How often a worker looks for messages whose worker died without acknowledging them (kombu's default is
        # roughly every 100 s): every 10 s, or as often as the visibility timeout when that is shorter.
        "unacked_restore_interval": min(10, visibility_timeout),
        "unacked_restore_throttle": 1,
        # Fail a dead connection in bounded time; the worker then reconnects instead of hanging on a half-open socket.
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
    }


def _queue(name: str) -> Queue:
    return Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]


def _every(seconds: float, task: str) -> dict[str, Any]:
    # A tick that no worker picked up before the next one is dropped, so a stopped worker does not come back to a
    # pile of identical relay or cleanup runs.
    return {"task": task, "schedule": seconds, "options": {"queue": MAINTENANCE_QUEUE, "expires": seconds}}


def _beat(settings: Settings) -> dict[str, Any]:
    """Beat's schedule and scheduler.

    On Redis it is RedBeat: the schedule and each entry's last run live in Redis, and only the beat holding RedBeat's
    lock dispatches, so two beats (a deploy overlap, a process type scaled to 2) still run each task once per period.
    The other one waits, trying the lock once per tick interval. The holder extends the lock to
    ``BEAT_LOCK_TIMEOUT_SECONDS`` at every tick and releases it on SIGTERM; a holder that dies without a word
    (SIGKILL, a lost host) leaves it to expire, so a standby takes over within the lock timeout plus one tick interval
    (30 s by default), and within one tick interval (5 s) after a clean stop. Being in Redis, the last runs also
    survive a restart on an ephemeral disk. The embedded development broker has no Redis: Celery's file scheduler.
    """
    tick = settings.beat_lock_timeout_seconds / BEAT_TICKS_PER_LOCK_TIMEOUT
    schedule = {
        "beat_schedule": {
            "relay-outbox": _every(settings.outbox_relay_interval_seconds, RELAY_OUTBOX_TASK),
            "cleanup-tokens": _every(settings.token_cleanup_interval_seconds, CLEANUP_TOKENS_TASK),
        },
        "beat_max_loop_interval": tick,
    }
    if settings.redis_url is None:
        return {**schedule, "beat_schedule_filename": str(DATA_DIR / "celerybeat-schedule")}
    return {
        **schedule,
        "beat_scheduler": "workers.beat:Scheduler",
        "redbeat_redis_url": settings.redis_url,
        # The broker's TLS options (rediss://: the certificate checked as REDIS_SSL_CERT_REQS says).
        "redbeat_redis_use_ssl": broker_ssl_options(settings),
        # A Redis that stops answering fails the call within a tick, rather than keep the lock's holder in a call while
        # its lock lapses. (Set explicitly: RedBeat would otherwise pass the broker's transport options.)
        "redbeat_redis_options": {"socket_connect_timeout": tick, "socket_timeout": tick},
        "redbeat_key_prefix": BEAT_KEY_PREFIX,
        "redbeat_lock_timeout": settings.beat_lock_timeout_seconds,
    }


def build_config(settings: Settings) -> dict[str, Any]:
    """The ``app.conf`` of the workers, as a mapping of Celery setting names."""
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": _transport_options(settings),
        # rediss:// (managed Redis): check the certificate as REDIS_SSL_CERT_REQS says.
        "broker_use_ssl": broker_ssl_options(settings),
        # Wait for the broker at start-up (and after losing it) instead of exiting.
        "broker_connection_retry_on_startup": True,
        # JSON only: a pickled message from anyone who can write to Redis would run code.
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        # Nothing reads task results; the outbox row and the maintenance_run table are the record.
        "task_ignore_result": True,
        # A worker started without -Q consumes both queues. Each has its own exchange and routing key: a bare
        # Queue(name) would be bound to the default exchange and key, and receive the other queue's messages too.
        "task_queues": [_queue(EMAILS_QUEUE), _queue(MAINTENANCE_QUEUE)],
        "task_default_queue": EMAILS_QUEUE,
        "task_routes": {
            SEND_EMAIL_TASK: {"queue": EMAILS_QUEUE},
            RELAY_OUTBOX_TASK: {"queue": MAINTENANCE_QUEUE},
            CLEANUP_TOKENS_TASK: {"queue": MAINTENANCE_QUEUE},
        },
        # Acknowledge after the task ran, so a worker that dies mid-task leaves the message to another worker;
        # every task is idempotent, so running one twice is harmless.
        "task_acks_late": True,
        # ...including when the worker process is killed (OOM, SIGKILL): requeue rather than acknowledge.
        "task_reject_on_worker_lost": True,
        # Stop a task at once when the broker connection is lost: its unacknowledged message is redelivered anyway.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # A backstop behind the SMTP timeouts: a stuck task is interrupted (soft) and then killed (hard).
        "task_soft_time_limit": EMAIL_SOFT_TIME_LIMIT,
        "task_time_limit": EMAIL_TIME_LIMIT,
        "task_annotations": {
            CLEANUP_TOKENS_TASK: {"soft_time_limit": CLEANUP_SOFT_TIME_LIMIT, "time_limit": CLEANUP_TIME_LIMIT}
        },
        # Slow I/O tasks: reserve one message per process, so a slow SMTP server does not strand a prefetched
        # batch behind one busy process while others idle.
        "worker_prefetch_multiplier": 1,
        # Remote control (celery inspect) needs fanout, which only Redis offers here.
        "worker_enable_remote_control": settings.redis_url is not None,
        # Task events (received, started, succeeded, retried, failed; "sent" from whoever publishes), so Flower and
        # `celery events` show every task. They too go through a fanout exchange, so Redis only.
        "worker_send_task_events": settings.redis_url is not None,
        "task_send_sent_event": settings.redis_url is not None,
        # Heroku (like most platforms) sends SIGTERM to every process of a dyno and SIGKILL 30 s later. The Procfile
        # sets REMAP_SIGTERM=SIGQUIT, which makes the pool processes ignore SIGTERM and the main process start a soft
        # shutdown: the running tasks get this long to finish, then the rest are cancelled and, being acknowledged
        # late, go back to the queue before the worker exits. (A plain warm shutdown would wait for every task,
        # however long, and be killed mid-task.)
        "worker_soft_shutdown_timeout": settings.worker_soft_shutdown_seconds,
        **_beat(settings),
        "timezone": "UTC",
        "enable_utc": True,
    }
