"""Task metrics shared through Redis: every process that publishes or runs tasks adds its counts to the same hashes,
so any web process can serve the totals of all of them on ``/metrics``.

Counting never waits for Redis. A process adds to an in-memory buffer, and a background thread moves the buffer to
Redis every :data:`FLUSH_SECONDS` with one round trip: a Lua script that applies the whole flush atomically and only
once (see :meth:`TaskMetricsRecorder.flush`). So a Redis outage delays counts rather than losing or doubling them; only
a process killed outright loses what it counted since its last flush. The buffer starts empty again in a forked
child (Celery's prefork pool), which must not flush its parent's counts a second time.

The hashes (a field is the JSON array of a sample's kind and label values):

- :data:`COUNTERS_KEY`: ``[kind, name, hostname, queue_name, exception]`` -> count, ``kind`` one of :data:`TASK_EVENTS`;
- :data:`HISTOGRAMS_KEY`: ``[histogram, name, hostname, queue_name, bucket]`` -> count, where ``bucket`` is the index
  of the first upper bound the value fits under (``len(bounds)`` for +Inf), and ``"sum"`` -> the sum of the values;
- :data:`WORKERS_KEY`: hostname -> :class:`WorkerState` as JSON, written by each worker's heartbeat;
- :data:`HEARTBEATS_KEY`: job -> Unix time it last ran (beat).
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import secrets
import socket
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import msgspec
from celery.signals import after_task_publish, before_task_publish

from app.core.redis import redis_client

if TYPE_CHECKING:
    from collections.abc import Mapping

    import redis

    from app.core.settings import Settings

__all__ = (
    "BEAT_JOB",
    "COUNTERS_KEY",
    "FLUSH_SECONDS",
    "HEARTBEATS_KEY",
    "HEARTBEAT_SECONDS",
    "HISTOGRAMS_KEY",
    "PUBLISHED_AT_HEADER",
    "QUEUE_WAIT",
    "RUNTIME",
    "TASK_EVENTS",
    "WORKERS_KEY",
    "WORKER_DOWN_AFTER_SECONDS",
    "WORKER_EVENTS",
    "WORKER_FORGET_SECONDS",
    "HistogramSpec",
    "TaskMetricsRecorder",
    "WorkerState",
    "count_published_tasks",
    "publisher_hostname",
    "ready_at",
)

logger = logging.getLogger(__name__)

KEY_PREFIX: Final = "inkwell:celery:"
COUNTERS_KEY: Final = f"{KEY_PREFIX}counters"
HISTOGRAMS_KEY: Final = f"{KEY_PREFIX}histograms"
WORKERS_KEY: Final = f"{KEY_PREFIX}workers"
HEARTBEATS_KEY: Final = f"{KEY_PREFIX}heartbeats"
FLUSH_SECONDS: Final = 1.0
HEARTBEAT_SECONDS: Final = 5.0
# A worker whose last heartbeat is older than this is shown down (celery_worker_up 0), and forgotten after
# WORKER_FORGET_SECONDS (the series ends), as celery-exporter does.
WORKER_DOWN_AFTER_SECONDS: Final = 3 * HEARTBEAT_SECONDS
WORKER_FORGET_SECONDS: Final = 600.0
REDIS_TIMEOUT_SECONDS: Final = 2.0
FLUSH_ID_PREFIX: Final = f"{KEY_PREFIX}flush:"
# A flush id is remembered this long: far longer than a process keeps retrying one flush.
FLUSH_ID_TTL_SECONDS: Final = 86_400
# Set by whoever publishes a task, read by the worker that starts it: the queue wait is measured from here.
PUBLISHED_AT_HEADER: Final = "published_at"
# The job under which beat records, in HEARTBEATS_KEY, each time it dispatches a scheduled task.
BEAT_JOB: Final = "beat"
# A failed flush is logged at most this often; the counts it carried wait for the next flush.
FAILURE_LOG_INTERVAL_SECONDS: Final = 60.0

# celery-exporter's counters, by the Celery event each counts ("task-sent" -> "sent").
TASK_EVENTS: Final = ("sent", "received", "started", "succeeded", "failed", "retried", "rejected", "revoked")
# What a worker counts; each is shown at 0 from a task's first receipt, so ratios between them exist from the start.
WORKER_EVENTS: Final = TASK_EVENTS[1:]


class HistogramSpec(NamedTuple):
    """A histogram's name (after ``celery_task_``) and its upper bounds, +Inf left implicit."""

    name: str
    bounds: tuple[float, ...]

    def bucket(self, value: float) -> int:
        """Index of the first bound ``value`` fits under (Prometheus' ``le``); ``len(bounds)`` means +Inf."""
        return bisect.bisect_left(self.bounds, value)


# celery-exporter's buckets: prometheus_client's defaults for the runtime, minutes-wide ones for the queue wait.
RUNTIME: Final = HistogramSpec("runtime", (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
QUEUE_WAIT: Final = HistogramSpec("queue_wait_time", (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))


class WorkerState(msgspec.Struct, frozen=True, kw_only=True):
    """What a worker's heartbeat says about it; ``online`` is false once it has shut down cleanly."""

    seen: float
    online: bool
    active: int
    processes: int
    queues: tuple[str, ...]


def publisher_hostname() -> str:
    """The name this process's host goes by in metrics: the platform's dyno name (``web.1``) where there is one,
    since a dyno's hostname changes at every restart, else the machine's hostname.
    """
    return os.environ.get("DYNO") or socket.gethostname()


# Applies one flush atomically, unless its id (the last key) was applied before. A heartbeat only moves forward.
_APPLY_FLUSH: Final = """
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local i = 2
local function pairs_of(apply)
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do apply(ARGV[i], ARGV[i + 1]); i = i + 2 end
end
pairs_of(function(field, delta) redis.call('HINCRBY', KEYS[1], field, delta) end)
pairs_of(function(field, delta) redis.call('HINCRBY', KEYS[2], field, delta) end)
pairs_of(function(field, value) redis.call('HINCRBYFLOAT', KEYS[2], field, value) end)
pairs_of(function(job, at)
  local last = tonumber(redis.call('HGET', KEYS[3], job) or '0')
  if tonumber(at) > last then redis.call('HSET', KEYS[3], job, at) end
end)
return 1
"""


def ready_at(headers: Mapping[str, Any]) -> float | None:
    """When the task of a message with these Celery ``headers`` became ready to run: its publish time, or its ETA
    (a countdown or retry backoff, deliberate delay rather than waiting) when later. ``None`` when that cannot be told:
    a message published without the publish-time header.
    """
    published = headers.get(PUBLISHED_AT_HEADER)
    if not isinstance(published, int | float):
        return None
    eta = headers.get("eta")
    if isinstance(eta, str):
        eta = datetime.fromisoformat(eta)
    return max(float(published), eta.timestamp() if isinstance(eta, datetime) else 0.0)


def _field(*parts: str) -> str:
    return msgspec.json.encode(parts).decode()


class _Deltas:
    """What a process counted since its last flush."""

    __slots__ = ("buckets", "counters", "heartbeats", "sums")

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.buckets: dict[str, int] = {}
        self.sums: dict[str, float] = {}
        self.heartbeats: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self.counters or self.buckets or self.sums or self.heartbeats)

    def script_args(self) -> list[str | int | float]:
        """The arguments of :data:`_APPLY_FLUSH`: each part as its length, then its field/value pairs."""
        args: list[str | int | float] = []
        for part in (self.counters, self.buckets, self.sums, self.heartbeats):
            args.append(len(part))
            for field, value in part.items():
                args += (field, value)
        return args


class TaskMetricsRecorder:
    """Buffers task counts in this process and adds them to Redis in the background.

    Without Redis (the embedded development broker) there is nowhere all processes can share, so it records nothing
    and the web reports task metrics as not available.
    """

    def __init__(self, client: redis.Redis | None) -> None:
        self._client = client
        self._apply = None if client is None else client.register_script(_APPLY_FLUSH)
        self._pid = -1
        self._reset()

    @classmethod
    def from_settings(cls, settings: Settings) -> TaskMetricsRecorder:
        """A recorder on ``REDIS_URL``, or one that records nothing (no Redis, or ``TASK_METRICS_ENABLED=false``)."""
        enabled = settings.task_metrics_enabled and settings.redis_url is not None
        return cls(redis_client(settings, REDIS_TIMEOUT_SECONDS) if enabled else None)

    @property
    def client(self) -> redis.Redis | None:
        """The Redis the counts go to; ``None`` when nothing is recorded."""
        return self._client

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._deltas = _Deltas()
        self._pending: tuple[str, _Deltas] | None = None
        self._seen_labels: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._last_failure_logged = -FAILURE_LOG_INTERVAL_SECONDS

    def _buffer(self) -> threading.Lock:
        """The lock over this process's buffer, starting the flusher in a process that has none yet."""
        if self._pid != os.getpid():
            # First use, or a forked child: the parent's buffer, lock and thread stay the parent's.
            self._pid = os.getpid()
            self._reset()
            threading.Thread(target=self._flush_periodically, name="task-metrics", daemon=True).start()
            atexit.register(self.close)
        return self._lock

    def count(self, event: str, name: str, hostname: str, queue: str, exception: str = "") -> None:
        """Add one ``event`` (one of :data:`TASK_EVENTS`) of task ``name`` on ``hostname`` from ``queue``."""
        if self._client is None:
            return
        labels = (name, hostname, queue)
        with self._buffer():
            counters = self._deltas.counters
            if event != "sent" and labels not in self._seen_labels:
                self._seen_labels.add(labels)
                for zero in WORKER_EVENTS:
                    counters.setdefault(_field(zero, *labels, ""), 0)
            field = _field(event, *labels, exception)
            counters[field] = counters.get(field, 0) + 1

    def observe(self, histogram: HistogramSpec, name: str, hostname: str, queue: str, seconds: float) -> None:
        """Add one observation of ``seconds`` to ``histogram`` for task ``name`` on ``hostname`` from ``queue``."""
        if self._client is None:
            return
        bucket = _field(histogram.name, name, hostname, queue, str(histogram.bucket(seconds)))
        total = _field(histogram.name, name, hostname, queue, "sum")
        with self._buffer():
            deltas = self._deltas
            deltas.buckets[bucket] = deltas.buckets.get(bucket, 0) + 1
            deltas.sums[total] = deltas.sums.get(total, 0.0) + seconds

    def ran(self, job: str) -> None:
        """Record that ``job`` ran now."""
        if self._client is None:
            return
        with self._buffer():
            self._deltas.heartbeats[job] = time.time()

    def flush(self) -> None:
        """Apply what this process counted to Redis, exactly once, in one round trip.

        A flush that fails is sent again, under the same id, before anything counted since: if Redis did apply it
        (the reply was lost, or came after the timeout), the id makes the second application a no-op.
        """
        apply = self._apply
        if apply is None or self._pid != os.getpid():
            # Nothing counted in this process yet: what the buffer holds, and the lock's state, are a parent's.
            return
        with self._lock:
            if self._pending is None and self._deltas:
                self._pending = (secrets.token_hex(8), self._deltas)
                self._deltas = _Deltas()
            pending = self._pending
        if pending is None:
            return
        flush_id, deltas = pending
        try:
            apply(
                keys=[COUNTERS_KEY, HISTOGRAMS_KEY, HEARTBEATS_KEY, f"{FLUSH_ID_PREFIX}{flush_id}"],
                args=[FLUSH_ID_TTL_SECONDS, *deltas.script_args()],
            )
        except Exception as exc:  # noqa: BLE001  (any Redis failure: the flush is sent again next time)
            self._log_failure(exc)
            return
        with self._lock:
            self._pending = None

    def _log_failure(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_failure_logged >= FAILURE_LOG_INTERVAL_SECONDS:
            self._last_failure_logged = now
            logger.warning("task metrics: Redis did not take the counts, they wait for the next flush: %s", exc)

    def _flush_periodically(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def close(self) -> None:
        """Stop the flusher and flush what is left (at shutdown)."""
        self._stop.set()
        self.flush()


def _stamp_publish_time(*, headers: dict[str, Any], **_: Any) -> None:
    # Overwritten on every publish: a retry's message is published anew and waits anew.
    headers[PUBLISHED_AT_HEADER] = time.time()


def count_published_tasks(recorder: TaskMetricsRecorder) -> None:
    """Stamp every task this process publishes with its publish time, and count it as sent under this host.

    Signals are process-wide, so the hooks are connected under fixed ids: connecting again (a second app in the
    same process) replaces the previous recorder rather than counting each task twice.
    """
    hostname = publisher_hostname()

    def count_sent(*, sender: str, routing_key: str, **_: Any) -> None:
        recorder.count("sent", sender, hostname, routing_key)

    for signal, receiver, uid in (
        (before_task_publish, _stamp_publish_time, "inkwell-task-metrics-stamp"),
        (after_task_publish, count_sent, "inkwell-task-metrics-sent"),
    ):
        signal.disconnect(dispatch_uid=uid)
        signal.connect(receiver, weak=False, dispatch_uid=uid)
