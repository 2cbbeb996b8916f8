"""``python -m tests.benchmark.tasks``: what the task metrics cost a worker, and what a scrape costs the web.

A real prefork worker (one pool process, as in production) drains a queue of no-op tasks on Redis, with the task
metrics on and off (``TASK_METRICS_ENABLED``), ``--runs`` times each, alternating which goes first; Celery's task
events are on in both. The table gives tasks/s and the worker's CPU per task (main and pool process), medians of
the runs, and the ratio. Then ``GET /metrics`` is timed with the series those runs left, and with ``--series``
more, and the Redis commands of one scrape are counted. It uses (and flushes) Redis database ``--redis-db``. See
the README's "Operations" section.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import redis
from advanced_alchemy.alembic.commands import AlembicCommands
from litestar.testing import TestClient

from app.application import create_app
from app.core.database import build_sqlalchemy_config
from app.core.settings import Settings, load_settings
from app.core.task_metrics import QUEUE_WAIT, RUNTIME, TaskMetricsRecorder
from app.core.task_queue import EMAILS_QUEUE
from tests.benchmark.noop_worker import NOOP_TASK
from tests.benchmark.server import cpu_seconds
from workers.celery_app import create_celery_app

__all__ = ("main",)

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "inkwell-benchmark-secret-key-not-for-production!"
READY_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.02


def _settings(redis_url: str, workdir: Path, *, metrics: bool) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{workdir / 'inkwell.sqlite3'}",
        "REDIS_URL": redis_url,
        "TASK_METRICS_ENABLED": str(metrics).lower(),
    }


def _pending(client: redis.Redis) -> int:
    """Messages still waiting or running: the queue's list plus Redis' unacknowledged hash (tasks ack late)."""
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(EMAILS_QUEUE)
        pipe.hlen("unacked")
        waiting, running = pipe.execute()
    return int(waiting) + int(running)


def _worker_pids(worker: subprocess.Popen[bytes]) -> list[int]:
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    return [worker.pid, *(int(pid) for pid in children.read_text().split())]


def _drain(redis_url: str, workdir: Path, tasks: int, *, metrics: bool) -> tuple[float, float]:
    """Queue ``tasks`` no-ops, start a worker, time it from the first task taken to the last acknowledged.

    Returns tasks/s and CPU seconds per task of the worker (main process and pool process).
    """
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    environ = _settings(redis_url, workdir, metrics=metrics)
    publisher = create_celery_app(load_settings(environ, env_file=None))
    with publisher.connection_for_write() as connection:
        for _ in range(tasks):
            publisher.send_task(NOOP_TASK, queue=EMAILS_QUEUE, connection=connection)
    command = [sys.executable, "-m", "celery", "-A", "tests.benchmark.noop_worker", "worker", "--pool", "prefork"]
    command += ["--concurrency", "1", "--queues", EMAILS_QUEUE, "--loglevel", "WARNING", "--without-gossip"]
    command += ["--without-mingle"]
    env = {**os.environ, **environ, "PYTHONPATH": str(REPO_ROOT)}
    worker = subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while _pending(client) >= tasks:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the benchmark worker took no task")
            time.sleep(POLL_SECONDS)
        started, cpu_before = time.monotonic(), cpu_seconds(_worker_pids(worker))
        while _pending(client):
            if time.monotonic() - started > READY_TIMEOUT_SECONDS:
                raise RuntimeError("the benchmark worker stalled")
            time.sleep(POLL_SECONDS)
        elapsed, cpu = time.monotonic() - started, cpu_seconds(_worker_pids(worker)) - cpu_before
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        client.close()
    return tasks / elapsed, cpu / tasks


def _counting_cost(redis_url: str, workdir: Path, tasks: int) -> float:
    """Microseconds of what a worker's main process adds per task when counting: the calls one task causes."""
    settings = load_settings(_settings(redis_url, workdir, metrics=True), env_file=None)
    recorder = TaskMetricsRecorder.from_settings(settings)
    labels = (NOOP_TASK, "worker.1", EMAILS_QUEUE)
    started = time.perf_counter()
    for _ in range(tasks):
        recorder.count("received", *labels)
        recorder.count("started", *labels)
        recorder.observe(QUEUE_WAIT, *labels, 0.004)
        recorder.count("succeeded", *labels)
        recorder.observe(RUNTIME, *labels, 0.0001)
    elapsed = time.perf_counter() - started
    recorder.close()
    return elapsed / tasks * 1e6


def _scrape_cost(redis_url: str, workdir: Path, scrapes: int, extra_series: int) -> tuple[float, float, int]:
    """Median and p95 milliseconds of ``GET /metrics``, and the Redis commands one scrape sends."""
    settings: Settings = load_settings(_settings(redis_url, workdir, metrics=True), env_file=None)
    AlembicCommands(sqlalchemy_config=build_sqlalchemy_config(settings)).upgrade("head")
    recorder = TaskMetricsRecorder.from_settings(settings)
    for index in range(extra_series):
        recorder.count("succeeded", f"benchmark.task{index % 20}", f"worker.{index // 20}", EMAILS_QUEUE)
    recorder.flush()
    observer = redis.Redis.from_url(redis_url)
    timings = []
    app = create_app(settings)
    logging.disable(logging.INFO)  # the access log of every scrape is not the report
    with TestClient(app=app) as client:
        for _ in range(scrapes):
            started = time.perf_counter()
            assert client.get("/metrics").status_code == 200
            timings.append((time.perf_counter() - started) * 1000)
        before = int(cast("dict[str, Any]", observer.info("stats"))["total_commands_processed"])
        client.get("/metrics")
        commands = int(cast("dict[str, Any]", observer.info("stats"))["total_commands_processed"]) - before - 1
    logging.disable(logging.NOTSET)
    observer.close()
    return statistics.median(timings), statistics.quantiles(timings, n=20)[-1], commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.tasks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 tasks, 1 run each, 20 scrapes")
    parser.add_argument("--tasks", type=int, default=3000, help="no-op tasks per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per mode, alternating; the table shows medians")
    parser.add_argument("--series", type=int, default=200, help="extra counter series for the second scrape timing")
    parser.add_argument("--redis-db", type=int, default=15, help="the Redis database used, and flushed")
    options = parser.parse_args(argv)
    tasks, runs, scrapes = (300, 1, 20) if options.quick else (options.tasks, options.runs, 200)
    redis_url = f"{os.environ.get('BENCH_REDIS', 'redis://127.0.0.1:6379')}/{options.redis_db}"

    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="inkwell-tasks-bench-") as tmp:
        workdir = Path(tmp)
        for run in range(runs):
            # Alternating which mode goes first, so neither always runs on a warmer machine.
            for metrics in (False, True) if run % 2 == 0 else (True, False):
                results[metrics].append(_drain(redis_url, workdir, tasks, metrics=metrics))
        counting = _counting_cost(redis_url, workdir, 100 * tasks)
        own = _scrape_cost(redis_url, workdir, scrapes, 0)
        more = _scrape_cost(redis_url, workdir, scrapes, options.series)
        redis.Redis.from_url(redis_url).flushdb()

    rate = {mode: statistics.median(r for r, _ in runs_) for mode, runs_ in results.items()}
    cpu = {mode: statistics.median(c for _, c in runs_) * 1e6 for mode, runs_ in results.items()}
    lines = [
        f"no-op tasks, 1 prefork process, {tasks} per run, median of {runs}",
        "| task metrics | tasks/s | worker CPU µs/task |",
        "|---|---|---|",
        f"| off | {rate[False]:.0f} | {cpu[False]:.0f} |",
        f"| on | {rate[True]:.0f} | {cpu[True]:.0f} |",
        f"| on / off | {rate[True] / rate[False]:.1%} | {cpu[True] / cpu[False]:.2f} x |",
        "",
        f"the counting itself (what one task adds to the worker's main process, timed in-process): {counting:.1f} µs",
        f"GET /metrics, {scrapes} scrapes: with this run's series median {own[0]:.2f} ms, p95 {own[1]:.2f} ms; "
        f"with {options.series} more counter series median {more[0]:.2f} ms, p95 {more[1]:.2f} ms; "
        f"Redis commands per scrape {own[2]} and {more[2]} (one pipelined round trip)",
    ]
    print("\n".join(lines))  # noqa: T201  (the report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
