"""Two beats at once (a deploy overlap, a process type scaled to 2) still dispatch each task once per period.

Real ``beat`` processes (the Procfile's line) on the test Redis, with no worker: every task they publish stays in the
``maintenance`` list, where the test counts them by task name. The beat holding RedBeat's lock dispatches; the other
waits. Killed without a word (SIGKILL), the holder leaves its lock to expire and the standby takes over within the
documented bound; stopped by SIGTERM, it releases the lock, so the next one takes over within one tick.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import pytest
import redis

from app.core.task_queue import CLEANUP_TOKENS_TASK, MAINTENANCE_QUEUE, RELAY_OUTBOX_TASK
from tests.conftest import REDIS_URL, make_settings, process_environment
from tests.procfile import HEROKU_STOP_SECONDS, ProcfileProcess, platform_env, read_procfile, stop_all
from tests.proxy import TcpRelay
from workers.config import BEAT_KEY_PREFIX, BEAT_TICKS_PER_LOCK_TIMEOUT

INTERVAL = 1.0  # both tasks: one run per second
LOCK_TIMEOUT = 5
TICK = LOCK_TIMEOUT / BEAT_TICKS_PER_LOCK_TIMEOUT
TAKEOVER_BOUND = LOCK_TIMEOUT + TICK  # what the README promises after a SIGKILL (30 s with the default 25 s lock)
WINDOW = 8.0
TASKS = (RELAY_OUTBOX_TASK, CLEANUP_TOKENS_TASK)
ACQUIRED = "beat: Acquired lock"
LOCK_KEY = f"{BEAT_KEY_PREFIX}:lock"

StartBeat = Callable[..., ProcfileProcess]


@pytest.fixture
def start_beat(redis_client: redis.Redis, tmp_path: Path) -> Iterator[StartBeat]:
    redis_client.flushdb()  # no lock, schedule or message left by an earlier test
    env = process_environment(
        make_settings(f"sqlite:///{tmp_path / 'unused.sqlite3'}"),  # beat only publishes; it opens no database
        PATH=platform_env()["PATH"],
        OUTBOX_RELAY_INTERVAL_SECONDS=str(INTERVAL),
        TOKEN_CLEANUP_INTERVAL_SECONDS=str(INTERVAL),
        BEAT_LOCK_TIMEOUT_SECONDS=str(LOCK_TIMEOUT),
    )
    started: list[ProcfileProcess] = []

    def start(**overrides: str) -> ProcfileProcess:
        process = ProcfileProcess(f"beat{len(started) + 1}", read_procfile()["beat"], {**env, **overrides}, tmp_path)
        started.append(process)
        process.wait_for_line("beat: Starting")  # next: it takes the lock, or waits for it
        return process

    yield start
    stop_all(started)
    for process in started:  # shown by pytest when the test failed
        print(f"----- {process.name} -----\n{process.output}")  # noqa: T201


def _published(redis_client: redis.Redis) -> Counter[str]:
    """Tasks waiting in the maintenance queue, by name (no worker takes them)."""
    raw_messages = cast("list[bytes]", redis_client.lrange(MAINTENANCE_QUEUE, 0, -1))  # a sync client
    return Counter(json.loads(raw)["headers"]["task"] for raw in raw_messages)


def _holder(beats: list[ProcfileProcess], timeout: float) -> ProcfileProcess:
    deadline = time.monotonic() + timeout
    while not (holders := [beat for beat in beats if ACQUIRED in beat.output]):
        assert time.monotonic() < deadline, f"no beat took the lock within {timeout} s"
        assert all(beat.popen.poll() is None for beat in beats), "a beat exited"
        time.sleep(0.05)
    assert len(holders) == 1, "two beats hold the lock"
    return holders[0]


def _wait_for_publishing(redis_client: redis.Redis, after: Counter[str], timeout: float) -> float:
    """Seconds until every task was published again since ``after`` was counted."""
    started = time.monotonic()
    while not all((now := _published(redis_client))[task] > after[task] for task in TASKS):
        assert time.monotonic() - started < timeout, f"publishing did not resume within {timeout} s: {now}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_two_beats_dispatch_each_task_once_per_period_and_a_standby_takes_over(
    start_beat: StartBeat, redis_client: redis.Redis
) -> None:
    beats = [start_beat(), start_beat()]
    active = _holder(beats, timeout=10)
    [standby] = [beat for beat in beats if beat is not active]

    before, started = _published(redis_client), time.monotonic()
    time.sleep(WINDOW)
    after, elapsed = _published(redis_client), time.monotonic() - started
    for task in TASKS:
        published = after[task] - before[task]
        # Once per period: two beats dispatching would publish about twice as many.
        assert elapsed / INTERVAL / 2 <= published <= elapsed / INTERVAL + 1, (task, published, elapsed)
    assert ACQUIRED not in standby.output

    # The holder dies without releasing its lock: the standby waits for it to expire, then dispatches.
    killed = _published(redis_client)
    active.signal_group(signal.SIGKILL)
    active.wait(10)
    resumed_in = _wait_for_publishing(redis_client, killed, timeout=TAKEOVER_BOUND + INTERVAL + 5)
    assert ACQUIRED in standby.output
    assert resumed_in <= TAKEOVER_BOUND + INTERVAL, f"publishing resumed {resumed_in:.1f} s after the SIGKILL"

    # A clean stop: SIGTERM releases the lock, so a new standby takes over well before the lock could expire.
    successor = start_beat()
    stopping = time.monotonic()
    standby.signal_group(signal.SIGTERM)
    assert standby.wait(HEROKU_STOP_SECONDS) == 0, "beat did not exit cleanly on SIGTERM"
    assert "beat: Releasing lock" in standby.output
    successor.wait_for_line(ACQUIRED, timeout=LOCK_TIMEOUT)
    assert time.monotonic() - stopping < LOCK_TIMEOUT, "the lock was left to expire instead of being released"
    _wait_for_publishing(redis_client, _published(redis_client), timeout=2 * INTERVAL + 1)

    # SIGTERM stops a standby waiting for the lock cleanly too, then the holder.
    for beat in (start_beat(), successor):
        beat.signal_group(signal.SIGTERM)
        assert beat.wait(HEROKU_STOP_SECONDS) == 0, f"{beat.name} did not exit cleanly on SIGTERM"
    assert redis_client.exists(LOCK_KEY) == 0  # released, not left to expire


def test_a_beat_rides_out_a_redis_outage_longer_than_its_lock(start_beat: StartBeat, redis_client: redis.Redis) -> None:
    """Redis away for longer than the lock timeout, and back empty: beat keeps running, takes its lapsed lock again
    and dispatches the schedule again."""
    redis_url = urlsplit(REDIS_URL)
    with TcpRelay(redis_url.hostname or "127.0.0.1", redis_url.port or 6379) as relay:
        beat = start_beat(REDIS_URL=redis_url._replace(netloc=f"127.0.0.1:{relay.port}").geturl())
        beat.wait_for_line(ACQUIRED, timeout=10)
        _wait_for_publishing(redis_client, _published(redis_client), timeout=2 * INTERVAL + 1)

        relay.cut()
        time.sleep(LOCK_TIMEOUT + 2 * TICK)
        assert redis_client.exists(LOCK_KEY) == 0, "the lock should have lapsed"
        redis_client.flushdb()  # and Redis comes back empty (restarted without persistence): no schedule either
        assert beat.popen.poll() is None, f"beat exited when Redis went away:\n{beat.output}"
        relay.restore()

        _wait_for_publishing(redis_client, _published(redis_client), timeout=4 * TICK + INTERVAL)
        assert beat.popen.poll() is None
        assert redis_client.exists(LOCK_KEY) == 1
        beat.wait_for_line("took it again", timeout=1)
