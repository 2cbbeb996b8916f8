"""Prometheus HTTP metrics: request counts and latency by route template and status.

With several web processes (``WEB_CONCURRENCY`` > 1) each keeps its own counters, and a scrape reaches one of them.
Set ``PROMETHEUS_MULTIPROC_DIR`` (the Procfile does) to an empty directory shared by the processes of one server:
each writes its samples there and every scrape adds them all up.
"""

from __future__ import annotations

import os

from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

__all__ = ("MULTIPROCESS_ENV", "build_prometheus_config", "http_metrics")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def build_prometheus_config(app_name: str) -> PrometheusConfig:
    # Grouping by route template keeps one series per route, not one per post id.
    return PrometheusConfig(app_name=app_name.lower(), group_path=True, exclude=["^/metrics"])


def http_metrics() -> bytes:
    """This process's metrics in the text format, or every web process's when multiprocess mode is on."""
    if not os.environ.get(MULTIPROCESS_ENV):
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
