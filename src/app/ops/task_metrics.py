"""The Celery metrics of a broker snapshot, under celery-exporter's names and labels, so celery-mixin's alerts and
Grafana dashboards work on them unchanged; plus Inkwell's queue gauges that tell a stuck queue from a busy one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from app.core.task_metrics import QUEUE_WAIT, RUNTIME, TASK_EVENTS, WORKER_DOWN_AFTER_SECONDS, HistogramSpec
from app.core.task_queue import QUEUES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client import Metric

    from app.ops.snapshot import BrokerSnapshot

__all__ = ("celery_metric_families",)

LABELS = ["name", "hostname", "queue_name"]
_COUNTER_HELP = {
    "sent": "Task messages published (by the web, beat or a task), per publishing host",
    "received": "Tasks a worker received from the broker",
    "started": "Tasks a worker started",
    "succeeded": "Tasks that ran to completion",
    "failed": "Tasks that failed for good (by exception class)",
    "retried": "Tasks that failed and were scheduled to run again",
    "rejected": "Task messages a worker rejected (requeued after its process was lost, or malformed)",
    "revoked": "Tasks revoked, or expired before they could run (a beat tick no worker took in time)",
}
_HISTOGRAM_HELP = {
    RUNTIME.name: "Seconds a task ran, tasks that succeeded",
    QUEUE_WAIT.name: "Seconds from a task being ready (published, or its ETA) to a worker starting it",
}


def _counters(snapshot: BrokerSnapshot) -> Iterator[Metric]:
    families = {
        event: CounterMetricFamily(
            f"celery_task_{event}", _COUNTER_HELP[event], labels=[*LABELS, "exception"] if event == "failed" else LABELS
        )
        for event in TASK_EVENTS
    }
    for (event, name, hostname, queue, exception), value in sorted(snapshot.counters.items()):
        family = families.get(event)
        if family is not None:
            family.add_metric(
                [name, hostname, queue, exception] if event == "failed" else [name, hostname, queue], value
            )
    yield from families.values()


def _histogram(snapshot: BrokerSnapshot, spec: HistogramSpec) -> Metric:
    buckets: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0] * (len(spec.bounds) + 1))
    sums: dict[tuple[str, str, str], float] = defaultdict(float)
    for (histogram, name, hostname, queue, bucket), value in snapshot.histograms.items():
        if histogram != spec.name:
            continue
        labels = (name, hostname, queue)
        if bucket == "sum":
            sums[labels] = value
        else:
            buckets[labels][int(bucket)] += value
    family = HistogramMetricFamily(f"celery_task_{spec.name}", _HISTOGRAM_HELP[spec.name], labels=LABELS)
    bounds = [*(str(float(bound)) for bound in spec.bounds), "+Inf"]
    for labels, counts in sorted(buckets.items()):
        cumulative, running = [], 0.0
        for bound, count in zip(bounds, counts, strict=True):
            running += count
            cumulative.append((bound, running))
        family.add_metric(list(labels), cumulative, sums[labels])
    return family


def _workers(snapshot: BrokerSnapshot) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "celery_worker_up",
        f"1 while a worker's heartbeat is under {WORKER_DOWN_AFTER_SECONDS:g} s old, 0 once it stopped or went silent",
        labels=["hostname"],
    )
    active = GaugeMetricFamily("celery_worker_tasks_active", "Tasks a worker is running now", labels=["hostname"])
    workers_per_queue = dict.fromkeys(QUEUES, 0)
    processes_per_queue = dict.fromkeys(QUEUES, 0)
    for hostname, state in sorted(snapshot.workers.items()):
        alive = state.online and snapshot.taken_at - state.seen < WORKER_DOWN_AFTER_SECONDS
        up.add_metric([hostname], int(alive))
        active.add_metric([hostname], state.active if alive else 0)
        if alive:
            for queue in state.queues:
                workers_per_queue[queue] = workers_per_queue.get(queue, 0) + 1
                processes_per_queue[queue] = processes_per_queue.get(queue, 0) + state.processes
    yield up
    yield active
    yield _per_queue("celery_active_worker_count", "Live workers consuming a queue", workers_per_queue)
    yield _per_queue(
        "celery_active_process_count", "Pool processes of the live workers of a queue", processes_per_queue
    )


def _per_queue(name: str, documentation: str, values: dict[str, int] | dict[str, float]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=["queue_name"])
    for queue, value in sorted(values.items()):
        family.add_metric([queue], value)
    return family


def celery_metric_families(snapshot: BrokerSnapshot) -> Iterator[Metric]:
    """Every Celery metric of ``snapshot``: the queues, and (if read) the task counters, histograms and workers."""
    yield _per_queue("celery_queue_length", "Messages waiting in a queue, not yet taken by a worker", snapshot.depths)
    yield _per_queue(
        "inkwell_queue_oldest_message_age_seconds",
        "Seconds the oldest message waiting in a queue has been ready to run (0 when the queue is empty)",
        snapshot.oldest_ages,
    )
    yield GaugeMetricFamily(
        "inkwell_queue_unacked",
        "Messages taken by workers and not yet acknowledged (running, prefetched, or waiting for a retry countdown)",
        value=snapshot.unacked,
    )
    yield from _counters(snapshot)
    yield _histogram(snapshot, RUNTIME)
    yield _histogram(snapshot, QUEUE_WAIT)
    yield from _workers(snapshot)
