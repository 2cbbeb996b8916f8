"""The workers' side of the task metrics: what each task goes through, each worker's heartbeat, beat's last run.

A worker announces a task's life as Celery events (``task-started``, ``task-succeeded``, ...) through
``Request.send_event``, in the worker's main process, whichever pool runs the task. :class:`MeteredRequest` counts
each event there before it goes out, so the counts are exactly what Flower and ``celery events`` see, with or
without events enabled. Receipt has no event of the request's own and is counted from ``task_received``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any, cast

import msgspec
from celery import Task, bootsteps
from celery.signals import after_task_publish, beat_init, task_received, worker_process_shutdown
from celery.utils.nodenames import nodesplit
from celery.worker import state as worker_state
from celery.worker.request import Request

from app.core.task_metrics import (
    BEAT_JOB,
    HEARTBEAT_SECONDS,
    QUEUE_WAIT,
    RUNTIME,
    WORKER_FORGET_SECONDS,
    WORKERS_KEY,
    TaskMetricsRecorder,
    WorkerState,
    count_published_tasks,
    ready_at,
)
from workers.context import WorkerContext

if TYPE_CHECKING:
    from celery import Celery
    from celery.worker import WorkController
    from celery.worker.consumer import Consumer

__all__ = (
    "MeteredRequest",
    "MeteredTask",
    "install_task_metrics",
)

logger = logging.getLogger(__name__)

# Celery's events carry an exception as its repr, "ValueError('...')"; the label is the class name.
_EXCEPTION_CLASS = re.compile(r"^(\w+)\(")
_EVENTS = {
    "task-started": "started",
    "task-succeeded": "succeeded",
    "task-failed": "failed",
    "task-retried": "retried",
    "task-rejected": "rejected",
    "task-revoked": "revoked",
}


def _host(nodename: str) -> str:
    """``celery@worker.1`` -> ``worker.1``: the host part, as celery-exporter labels it."""
    return nodesplit(nodename)[1] or nodename


def _queue(request: Request) -> str:
    # Each of Inkwell's queues has its own exchange, bound with the queue's name as routing key.
    return str((request.delivery_info or {}).get("routing_key") or "")


class MeteredRequest(Request):  # type: ignore[misc]  # Celery is untyped
    """A task request that counts each event of its task before sending it."""

    __slots__ = ()

    def send_event(self, type: str, **fields: Any) -> None:
        event = _EVENTS.get(type)
        if event is not None:
            try:
                self._record(event, fields)
            except Exception:  # a metrics bug must never fail a task, which is the work itself
                logger.exception("task metrics: could not count %s of %s", type, self.id)
        super().send_event(type, **fields)

    def _record(self, event: str, fields: dict[str, Any]) -> None:
        recorder = WorkerContext.of(self.task.app).task_metrics
        name, hostname, queue = self.name, _host(self.hostname), _queue(self)
        exception = ""
        if event == "failed":
            match = _EXCEPTION_CLASS.match(str(fields.get("exception", "")))
            exception = match.group(1) if match else "UnknownException"
        recorder.count(event, name, hostname, queue, exception)
        if event == "succeeded" and fields.get("runtime") is not None:
            recorder.observe(RUNTIME, name, hostname, queue, float(fields["runtime"]))
        elif event == "started":
            ready = ready_at(self._request_dict)  # the message's headers
            if ready is not None:
                recorder.observe(QUEUE_WAIT, name, hostname, queue, max(0.0, time.time() - ready))


class MeteredTask(Task):  # type: ignore[misc]  # Celery is untyped
    """The base of Inkwell's tasks: their requests are metered."""

    Request = MeteredRequest


class WorkerHeartbeat:
    """Writes this worker's :class:`WorkerState` to Redis every :data:`HEARTBEAT_SECONDS`, and once more, offline,
    when it stops; it also forgets workers nobody has heard from for :data:`WORKER_FORGET_SECONDS`.
    """

    def __init__(self, recorder: TaskMetricsRecorder, hostname: str, processes: int, queues: tuple[str, ...]) -> None:
        self._recorder = recorder
        self._client = recorder.client
        self._hostname = hostname
        self._processes = processes
        self._queues = queues
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True)

    def start(self) -> None:
        if self._client is not None:
            self._thread.start()

    def stop(self) -> None:
        """Say this worker is offline and flush the counts of its main process (warm and cold shutdowns alike)."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(timeout=HEARTBEAT_SECONDS)
            self._write(online=False)
        self._recorder.close()

    def _beat(self) -> None:
        while True:
            self._write(online=True)
            self._forget_silent_workers()
            if self._stop.wait(HEARTBEAT_SECONDS):
                return

    def _write(self, *, online: bool) -> None:
        state = WorkerState(
            seen=time.time(),
            online=online,
            active=len(worker_state.active_requests),
            processes=self._processes,
            queues=self._queues,
        )
        assert self._client is not None  # noqa: S101  (start() runs the thread only with a client)
        try:
            self._client.hset(WORKERS_KEY, self._hostname, msgspec.json.encode(state).decode())
        except Exception as exc:  # noqa: BLE001  (a missed heartbeat shows as a late one; the next may pass)
            logger.warning("worker heartbeat: Redis did not answer: %s", exc)

    def _forget_silent_workers(self) -> None:
        assert self._client is not None  # noqa: S101
        try:
            states = cast("dict[bytes, bytes]", self._client.hgetall(WORKERS_KEY))
            cutoff = time.time() - WORKER_FORGET_SECONDS
            silent = [
                host.decode()
                for host, raw in states.items()
                if msgspec.json.decode(raw, type=WorkerState).seen < cutoff
            ]
            if silent:
                self._client.hdel(WORKERS_KEY, *silent)
        except Exception as exc:  # noqa: BLE001  (best effort: tried again at the next heartbeat)
            logger.warning("worker heartbeat: could not forget silent workers: %s", exc)


class HeartbeatStep(bootsteps.StartStopStep):  # type: ignore[misc]  # Celery is untyped
    """Runs the :class:`WorkerHeartbeat` for as long as the worker runs: a worker bootstep, so it is stopped on a
    cold shutdown too (Celery's ``worker_shutdown`` signal is sent on warm ones only).
    """

    label = "Inkwell heartbeat"

    def create(self, worker: WorkController) -> WorkerHeartbeat:
        queues = tuple(sorted(worker.app.amqp.queues.consume_from or worker.app.amqp.queues))
        recorder = WorkerContext.of(worker.app).task_metrics
        return WorkerHeartbeat(recorder, _host(worker.hostname), int(worker.concurrency), queues)


def _count_received(*, sender: Consumer, request: Request, **_: Any) -> None:
    recorder = WorkerContext.of(sender.app).task_metrics
    recorder.count("received", request.name, _host(request.hostname), _queue(request))


def _record_beat_runs(*, sender: Any, **_: Any) -> None:
    recorder = WorkerContext.of(sender.app).task_metrics

    def dispatched(**_: Any) -> None:
        recorder.ran(BEAT_JOB)

    # Only the beat holding the scheduler lock publishes, so this is the running scheduler's heartbeat.
    after_task_publish.connect(dispatched, weak=False, dispatch_uid="inkwell-beat-ran")


def install_task_metrics(app: Celery) -> None:
    """Count what ``app`` publishes and runs, with a heartbeat per worker; flush a pool process's counts when it
    exits (it skips ``atexit``).
    """
    app.steps["worker"].add(HeartbeatStep)
    recorder = WorkerContext.of(app).task_metrics
    count_published_tasks(recorder)

    def flush(**_: Any) -> None:
        recorder.flush()

    worker_process_shutdown.disconnect(dispatch_uid="inkwell-task-metrics-flush")
    worker_process_shutdown.connect(flush, weak=False, dispatch_uid="inkwell-task-metrics-flush")


task_received.connect(_count_received, weak=False)
beat_init.connect(_record_beat_runs, weak=False)
