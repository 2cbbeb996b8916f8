"""A call past its deadline is reported as a timeout at once and left to finish in the background."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app.core.deadline import DeadlineRunner

DEADLINE = 0.2


def test_an_answer_in_time_is_returned_and_a_failure_raised() -> None:
    runner = DeadlineRunner(DEADLINE, threads=1, name="test-deadline")
    assert runner.run(lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        runner.run(lambda: 1 // 0)
    assert asyncio.run(runner.run_async(lambda: 42)) == 42


def test_a_late_call_times_out_at_the_deadline_and_finishes_in_the_background() -> None:
    runner = DeadlineRunner(DEADLINE, threads=1, name="test-deadline")
    release, finished = threading.Event(), threading.Event()

    def hang() -> None:
        release.wait(5)
        finished.set()

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        runner.run(hang)
    assert time.monotonic() - started < 1
    assert not finished.is_set()
    release.set()
    assert finished.wait(5)


@pytest.mark.parametrize("awaited", [False, True])
def test_a_call_still_queued_at_its_deadline_never_runs(*, awaited: bool) -> None:
    runner = DeadlineRunner(DEADLINE, threads=1, name="test-deadline")
    release, ran = threading.Event(), threading.Event()
    with pytest.raises(TimeoutError):
        runner.run(lambda: release.wait(5))  # holds the only thread

    def queue_behind() -> None:
        if awaited:
            asyncio.run(runner.run_async(ran.set))
        else:
            runner.run(ran.set)

    with pytest.raises(TimeoutError):
        queue_behind()
    release.set()
    assert runner.run(lambda: "free again") == "free again"
    assert not ran.is_set()
