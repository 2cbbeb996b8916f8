"""The clients of the cluster: a load balancer-like client over the web hosts, bounded traffic from threads, and
latency percentiles of a fixed set of calls."""

from __future__ import annotations

import contextlib
import itertools
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "/api/v1"
# A call to a host that is off the network fails here, and goes to the next host.
TIMEOUT = httpx.Timeout(10.0, connect=1.0)


class Balancer:
    """Round-robins the web hosts as a load balancer does, appending ``client_ip`` to ``X-Forwarded-For``.

    A call that could not reach a host (no connection) is sent to the next one; a call that is safe to repeat (``GET``,
    or a ``POST`` with an ``Idempotency-Key``) is sent to the next one also when its answer was lost.
    """

    def __init__(self, urls: list[str], client_ip: str = "203.0.113.10", timeout: httpx.Timeout = TIMEOUT) -> None:
        self.clients = [httpx.Client(base_url=url, timeout=timeout) for url in urls]
        self.client_ip = client_ip
        self.retried = 0
        self._turn = itertools.count()

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def host(self, index: int, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call to one host, without retry (to see what that host answers)."""
        headers = {"X-Forwarded-For": self.client_ip, **kwargs.pop("headers", {})}
        return self.clients[index].request(method, path, headers=headers, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Forwarded-For": self.client_ip, **kwargs.pop("headers", {})}
        repeatable = method == "GET" or "Idempotency-Key" in headers
        first = next(self._turn)
        failure: httpx.TransportError | None = None
        for attempt in range(len(self.clients)):
            client = self.clients[(first + attempt) % len(self.clients)]
            try:
                return client.request(method, path, headers=headers, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                failure = exc
            except httpx.TransportError as exc:
                if not repeatable:
                    raise
                failure = exc
            self.retried += 1
        assert failure is not None
        raise failure


@dataclass
class Record:
    """What the clients saw: answers by status, and the calls that got none (the transport error)."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: httpx.Response | Exception) -> None:
        with self._lock:
            if isinstance(outcome, httpx.Response):
                self.statuses[outcome.status_code] += 1
                self.answers.append(outcome)
            else:
                self.errors.append(repr(outcome))

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)


@contextlib.contextmanager
def traffic(
    call: Callable[[int], httpx.Response], threads: int = 2, pause: float = 0.05, seconds: float = 120
) -> Iterator[Record]:
    """Threads calling ``call(n)`` (n numbers the calls of all threads), each waiting ``pause`` seconds after each call,
    until the block ends or at most ``seconds``; each outcome goes to the record."""
    record = Record()
    stop = threading.Event()
    deadline = time.monotonic() + seconds
    numbers = itertools.count()

    def loop() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                record.add(call(next(numbers)))
            except httpx.TransportError as exc:
                record.add(exc)
            stop.wait(pause)

    workers = [threading.Thread(target=loop, name=f"traffic-{index}", daemon=True) for index in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield record
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        assert not any(worker.is_alive() for worker in workers), "a client call did not return"


def percentiles(call: Callable[[], httpx.Response], count: int) -> tuple[float, float, Counter[int]]:
    """p50 and p99 in milliseconds of ``count`` calls made one after another, and their statuses."""
    durations: list[float] = []
    statuses: Counter[int] = Counter()
    for _ in range(count):
        started = time.perf_counter()
        response = call()
        durations.append((time.perf_counter() - started) * 1000)
        statuses[response.status_code] += 1
    cuts = statistics.quantiles(durations, n=100, method="inclusive")
    return cuts[49], cuts[98], statuses
