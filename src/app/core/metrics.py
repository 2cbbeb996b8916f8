"""Prometheus HTTP metrics: request counts and latency by method, route template and status.

With several web processes (``WEB_CONCURRENCY`` > 1) each keeps its own counters, and a scrape reaches one of them.
Set ``PROMETHEUS_MULTIPROC_DIR`` (the Procfile does) to an empty directory shared by the processes of one server:
each writes its samples there and every scrape adds them all up.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

__all__ = ("MULTIPROCESS_ENV", "HttpMetrics")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class HttpMetrics:
    """Per-app metrics in a registry of the app's own, so an app built twice in one process (tests) never
    registers a name twice. Recorded by the edge middleware for every response but the answered scrapes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "inkwell_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "inkwell_http_request_duration_seconds",
            "Time from receiving a request to its last response byte, by method and route template",
            ["method", "route"],
            registry=self.registry,
        )
        # Label lookups take a lock and build a tuple; the children are few (routes x statuses), so keep them.
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._histograms: dict[tuple[str, str], Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counter_key = (method, route, status)
        counter = self._counters.get(counter_key)
        if counter is None:
            counter = self._counters[counter_key] = self._requests.labels(method, route, str(status))
        counter.inc()
        histogram_key = (method, route)
        histogram = self._histograms.get(histogram_key)
        if histogram is None:
            histogram = self._histograms[histogram_key] = self._duration.labels(method, route)
        histogram.observe(seconds)

    def exposition(self) -> bytes:
        """This process's metrics in the text format, or every web process's when multiprocess mode is on."""
        if not os.environ.get(MULTIPROCESS_ENV):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
