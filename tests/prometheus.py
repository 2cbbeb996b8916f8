"""A real Prometheus for tests: Debian's ``prometheus`` on a free loopback port, its configuration and storage in a
temporary directory, scraping what a test names and evaluating the rule files it is given; stopped when the block
ends, whatever happened in it.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.servers import free_port, stop

__all__ = ("Prometheus", "dashboard_panels", "dashboard_queries", "prometheus", "scrape_config")

T = TypeVar("T")

READY_SECONDS = 30
STOP_SECONDS = 10


def scrape_config(job: str, url: str, *, bearer_token: str | None = None) -> dict[str, Any]:
    """A ``scrape_configs`` entry for one target, ``url`` being its full metrics URL (``http://host:port/metrics``)."""
    target = httpx.URL(url)
    config: dict[str, Any] = {
        "job_name": job,
        "scheme": target.scheme,
        "metrics_path": target.path,
        "static_configs": [{"targets": [f"{target.host}:{target.port}"]}],
    }
    if bearer_token is not None:
        config["authorization"] = {"type": "Bearer", "credentials": bearer_token}
    return config


def dashboard_panels(dashboard: Path) -> list[dict[str, Any]]:
    """Every panel of a Grafana dashboard file but the rows, including those inside a collapsed row."""
    panels: list[dict[str, Any]] = []
    for panel in json.loads(dashboard.read_text())["panels"]:
        panels += panel.get("panels", []) if panel["type"] == "row" else [panel]
    return panels


def dashboard_queries(dashboard: Path, variables: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(panel title, PromQL)`` of every target, its ``$variables`` replaced as Grafana would: by ``variables``,
    ``.*`` ("All") for the others.
    """
    return [
        (panel["title"], re.sub(r"\$(\w+)", lambda match: variables.get(match.group(1), ".*"), target["expr"]))
        for panel in dashboard_panels(dashboard)
        for target in panel["targets"]
    ]


class Prometheus:
    """A running Prometheus and its HTTP API."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def query(self, expr: str) -> dict[str, Any]:
        """``/api/v1/query`` at the current time: the API's whole answer, ``status`` ``success`` or ``error``."""
        answer: dict[str, Any] = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        return answer

    def alerts(self) -> list[dict[str, Any]]:
        """The pending and firing alerts (``/api/v1/alerts``), each with its labels, state and value."""
        alerts: list[dict[str, Any]] = self._get("/api/v1/alerts")["alerts"]
        return alerts

    def rule_groups(self) -> list[dict[str, Any]]:
        """The loaded rule groups (``/api/v1/rules``), each rule with its health and last error."""
        groups: list[dict[str, Any]] = self._get("/api/v1/rules")["groups"]
        return groups

    def wait_until(self, condition: Callable[[], T], *, timeout: float, what: str) -> T:
        """Poll ``condition`` every 0.2 s until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"Prometheus: no {what} within {timeout} s\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def _get(self, path: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}{path}", timeout=10)
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return data


def _wait_until_ready(server: Prometheus) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {server.process.returncode}\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"prometheus was not ready within {READY_SECONDS} s\n{server.log_tail()}")


@contextmanager
def prometheus(
    binary: str,
    *,
    scrape_configs: Sequence[Mapping[str, Any]] = (),
    rule_files: Sequence[Path] = (),
    interval: str = "1s",
) -> Iterator[Prometheus]:
    """Run ``binary`` (the ``prometheus_binary`` fixture) scraping and evaluating every ``interval``."""
    with tempfile.TemporaryDirectory(prefix="inkwell-prometheus-") as tmp:
        root = Path(tmp)
        config = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
            "scrape_configs": list(scrape_configs),
            "rule_files": [str(path.resolve()) for path in rule_files],
        }
        # JSON is YAML, so no YAML writer is needed.
        (root / "prometheus.yml").write_text(json.dumps(config))
        port = free_port()
        log = root / "prometheus.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={root / 'prometheus.yml'}",
                    f"--storage.tsdb.path={root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                cwd=root,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        server = Prometheus(f"http://127.0.0.1:{port}", process, log)
        try:
            _wait_until_ready(server)
            yield server
        finally:
            stop(process, STOP_SECONDS)
