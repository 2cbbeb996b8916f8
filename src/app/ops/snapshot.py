"""One reading of the broker's Redis: queue depths, the oldest message of each queue, and the task metrics hashes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from kombu.transport.redis import PRIORITY_STEPS

from app.core.task_metrics import (
    COUNTERS_KEY,
    HISTOGRAMS_KEY,
    WORKERS_KEY,
    WorkerState,
    ready_at,
)
from app.core.task_queue import QUEUES
from app.ops.schemas import JobRun

__all__ = ("TASK_METRICS_KEYS", "BrokerSnapshot")

# Read in this order, after the queues and the last runs: see BrokerProbe.snapshot.
TASK_METRICS_KEYS: Final = (COUNTERS_KEY, HISTOGRAMS_KEY, WORKERS_KEY)


class _Envelope(msgspec.Struct):
    """The part of a kombu message on Redis that says when it may run: its Celery headers."""

    headers: dict[str, Any] = msgspec.field(default_factory=dict)


_envelope = msgspec.json.Decoder(_Envelope)


def _ready_at(message: bytes) -> float | None:
    """When the task in ``message`` became ready to run (see :func:`ready_at`); ``None`` when that cannot be told."""
    try:
        return ready_at(_envelope.decode(message).headers)
    except msgspec.DecodeError:
        return None


def _decode_hash(raw: dict[bytes, bytes]) -> dict[tuple[str, ...], float]:
    return {tuple(msgspec.json.decode(field)): float(value) for field, value in raw.items()}


class BrokerSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What one scrape read; the task metrics parts are empty when they were not asked for."""

    taken_at: float
    depths: dict[str, int]
    # Seconds the oldest waiting message of each queue has waited (0 when empty); a queue whose oldest message
    # cannot be dated is left out rather than guessed.
    oldest_ages: dict[str, float]
    unacked: int
    counters: dict[tuple[str, ...], float] = msgspec.field(default_factory=dict)
    histograms: dict[tuple[str, ...], float] = msgspec.field(default_factory=dict)
    workers: dict[str, WorkerState] = msgspec.field(default_factory=dict)
    last_runs: dict[str, float] = msgspec.field(default_factory=dict)

    @classmethod
    def from_replies(cls, replies: list[Any], *, task_metrics: bool, now: float) -> BrokerSnapshot:
        """Build it from the pipeline's replies: per queue and priority a length and the oldest message, then the
        unacknowledged count, the last runs, then (with ``task_metrics``) the hashes of :data:`TASK_METRICS_KEYS`.
        """
        per_queue = 2 * len(PRIORITY_STEPS)
        depths: dict[str, int] = {}
        oldest_ages: dict[str, float] = {}
        for index, queue in enumerate(QUEUES):
            lengths_and_oldest = replies[index * per_queue : (index + 1) * per_queue]
            depths[queue] = sum(lengths_and_oldest[0::2])
            ready = [_ready_at(message) for message in lengths_and_oldest[1::2] if message is not None]
            if None not in ready:
                oldest_ages[queue] = max((max(0.0, now - at) for at in ready if at is not None), default=0.0)
        unacked, last_runs, *task_hashes = replies[len(QUEUES) * per_queue :]
        snapshot = cls(
            taken_at=now,
            depths=depths,
            oldest_ages=oldest_ages,
            unacked=int(unacked),
            last_runs={job.decode(): float(at) for job, at in last_runs.items()},
        )
        if not task_metrics:
            return snapshot
        counters, histograms, workers = task_hashes
        return msgspec.structs.replace(
            snapshot,
            counters=_decode_hash(counters),
            histograms=_decode_hash(histograms),
            workers={host.decode(): msgspec.json.decode(state, type=WorkerState) for host, state in workers.items()},
        )

    def job_runs(self) -> dict[str, JobRun]:
        """The last runs recorded in Redis (beat's), as the database's are reported."""
        runs = {}
        for job, at in self.last_runs.items():
            moment = datetime.fromtimestamp(at, UTC)
            runs[job] = JobRun(started_at=moment, finished_at=moment, counts={})
        return runs
