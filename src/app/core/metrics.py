"""Prometheus metrics: request counts and latency by route template and status, served at ``GET /metrics``."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

__all__ = ("MetricsController", "build_prometheus_config")


def build_prometheus_config(app_name: str) -> PrometheusConfig:
    # Grouping by route template keeps one series per route, not one per post id.
    return PrometheusConfig(app_name=app_name.lower(), group_path=True, exclude=["^/metrics"])


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
