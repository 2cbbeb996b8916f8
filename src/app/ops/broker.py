"""Reads the broker for ops: queue depths straight from Redis, and which workers answer a ping.

Every call is bounded by :data:`DEADLINE_SECONDS` (``app.core.deadline``), so a Redis that is gone (or a half-open
connection to it) makes a report say so instead of stalling the request or the scrape.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from kombu.transport.redis import PRIORITY_STEPS, Channel

from app.core.deadline import DeadlineRunner
from app.core.redis import redis_client
from app.core.task_metrics import HEARTBEATS_KEY
from app.core.task_queue import QUEUES, build_api_celery
from app.ops.schemas import WorkersReport
from app.ops.snapshot import TASK_METRICS_KEYS, BrokerSnapshot

if TYPE_CHECKING:
    from app.core.settings import Settings

__all__ = ("BrokerProbe", "BrokerUnavailable", "queue_keys")

# Each Redis command gives up after this; a whole probe after DEADLINE_SECONDS.
SOCKET_TIMEOUT_SECONDS = 1.0
# Workers reply to a ping within milliseconds; one that takes longer than this is as good as gone.
PING_TIMEOUT_SECONDS = 1.0
DEADLINE_SECONDS = 2.5
EMBEDDED = "the embedded development broker (no REDIS_URL) cannot report this"


def queue_keys(queue: str) -> list[str]:
    """The Redis lists kombu keeps a queue in: the queue's name for priority 0, ``<name><sep><step>`` for the others."""
    return [queue if step == 0 else f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS]


class BrokerUnavailable(Exception):  # noqa: N818  (a state, not an error: the broker is unavailable)
    """The broker could not be read: ``not_available`` on the embedded broker, ``unavailable`` when Redis failed."""

    def __init__(self, status: Literal["unavailable", "not_available"], detail: str) -> None:
        super().__init__(detail)
        self.status: Literal["unavailable", "not_available"] = status
        self.detail = detail


def _failure(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {DEADLINE_SECONDS:g} s"
    return f"{type(exc).__name__}: {exc}"[:200]


class BrokerProbe:
    """Queue depths and live workers of the configured broker, each answer within :data:`DEADLINE_SECONDS`."""

    def __init__(self, settings: Settings) -> None:
        self.embedded = settings.redis_url is None
        # Nothing connects here: the first probe does.
        self._redis = None if self.embedded else redis_client(settings, SOCKET_TIMEOUT_SECONDS)
        self._celery = None if self.embedded else build_api_celery(settings, SOCKET_TIMEOUT_SECONDS)
        self._calls = DeadlineRunner(DEADLINE_SECONDS, threads=4, name="broker-probe")

    def snapshot(self, *, task_metrics: bool) -> BrokerSnapshot:
        """Queue depths, unacknowledged messages, the oldest message per queue, beat's last run and, with
        ``task_metrics``, the task metrics hashes: one pipelined round trip, however many tasks ran.

        Raises:
            BrokerUnavailable: on the embedded development broker, or when Redis does not answer in time.
        """
        if self._redis is None:
            raise BrokerUnavailable("not_available", EMBEDDED)
        client = self._redis

        def read() -> BrokerSnapshot:
            with client.pipeline(transaction=False) as pipe:
                for queue in QUEUES:
                    for key in queue_keys(queue):
                        pipe.llen(key)
                        pipe.lindex(key, -1)  # kombu pushes on the left and pops on the right: the oldest
                pipe.hlen(Channel.unacked_key)
                pipe.hgetall(HEARTBEATS_KEY)
                if task_metrics:
                    for key in TASK_METRICS_KEYS:
                        pipe.hgetall(key)
                replies = pipe.execute()
            return BrokerSnapshot.from_replies(replies, task_metrics=task_metrics, now=time.time())

        try:
            return self._calls.run(read)
        except Exception as exc:
            raise BrokerUnavailable("unavailable", _failure(exc)) from exc

    def workers(self) -> WorkersReport:
        """The workers that answered a broadcast ping within :data:`PING_TIMEOUT_SECONDS`."""
        if self._celery is None:
            return WorkersReport(status="not_available", detail=EMBEDDED)
        control = self._celery.control
        try:
            replies = self._calls.run(lambda: control.ping(timeout=PING_TIMEOUT_SECONDS))
        except Exception as exc:  # noqa: BLE001  (any broker failure is reported, not raised)
            return WorkersReport(status="unavailable", detail=_failure(exc))
        online = sorted(hostname for reply in replies for hostname in reply)
        if not online:
            return WorkersReport(status="none", detail=f"no worker answered within {PING_TIMEOUT_SECONDS:g} s")
        return WorkersReport(status="ok", online=online)
