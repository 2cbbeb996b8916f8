"""A real Prometheus with the shipped alert rules, scraping a stand-in for ``web``'s /metrics.

The stand-in serves every series of the metric contract (README, Operations) under its names and labels, counters
growing with each scrape, so the dashboard's queries and the rules run on data shaped like Inkwell's; the e2e test
scrapes the real ``web``. It describes one state: all is well except that the oldest pending email is an hour old
and the outbox relay last ran 1000 s ago (it runs every 30 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count

import pytest

from tests.prometheus import Prometheus, prometheus, scrape_config
from tests.servers import REPO_ROOT

ASSETS = REPO_ROOT / "src" / "app" / "ops" / "assets"
ALERT_RULES_FILE = ASSETS / "alert-rules.yml"
DASHBOARD_FILE = ASSETS / "dashboard.json"
SCRAPE_JOB = "inkwell-celery"
SCRAPE_TOKEN = "contract-scrape-token"

WORKER = 'hostname="worker.1"'
TASKS = (
    ('name="workers.tasks.send_email"', 'queue_name="emails"'),
    ('name="workers.tasks.relay_outbox"', 'queue_name="maintenance"'),
    ('name="workers.tasks.cleanup_tokens"', 'queue_name="maintenance"'),
)
# Per scrape: 100 runs of each task, one of which fails.
TASK_EVENTS = {
    "sent": 100,
    "received": 100,
    "started": 100,
    "succeeded": 99,
    "failed": 1,
    "retried": 2,
    "rejected": 0,
    "revoked": 0,
}
BUCKETS = ("0.1", "1.0", "+Inf")
JOB_INTERVALS = {"beat": 30, "outbox_relay": 30, "token_cleanup": 3600}
STALE_JOB, STALE_FOR = "outbox_relay", 1000
OUTBOX = {"pending": 4, "sent": 90, "failed": 2}


def _histogram(name: str, labels: str, scrape: int) -> list[str]:
    cumulative = (scrape * 50, scrape * 90, scrape * 100)
    lines = [f'{name}_bucket{{{labels},le="{le}"}} {n}' for le, n in zip(BUCKETS, cumulative, strict=True)]
    return [*lines, f"{name}_sum{{{labels}}} {scrape * 30.0}", f"{name}_count{{{labels}}} {scrape * 100}"]


def _exposition(scrape: int, now: float) -> str:
    """The /metrics text of the state above, at the ``scrape``-th scrape."""
    lines = []
    for name, queue in TASKS:
        labels = f"{name},{WORKER},{queue}"
        for event, per_scrape in TASK_EVENTS.items():
            exception = ',exception="SMTPServerDisconnected"' if event == "failed" else ""
            lines.append(f"celery_task_{event}_total{{{labels}{exception}}} {scrape * per_scrape}")
        lines += _histogram("celery_task_runtime", labels, scrape)
        lines += _histogram("celery_task_queue_wait_time", labels, scrape)
    lines += [f"celery_worker_up{{{WORKER}}} 1", f"celery_worker_tasks_active{{{WORKER}}} 1"]
    for queue in ("emails", "maintenance"):
        lines += [
            f'celery_queue_length{{queue_name="{queue}"}} 3',
            f'celery_active_worker_count{{queue_name="{queue}"}} 1',
            f'celery_active_process_count{{queue_name="{queue}"}} 2',
            f'inkwell_queue_oldest_message_age_seconds{{queue_name="{queue}"}} 2',
        ]
    lines += ["inkwell_broker_up 1", "inkwell_database_up 1", "inkwell_queue_unacked 1"]
    lines += ["inkwell_task_metrics_available 1", "inkwell_outbox_oldest_pending_age_seconds 3600"]
    lines += [f'inkwell_outbox_emails{{status="{status}"}} {n}' for status, n in OUTBOX.items()]
    for job, interval in JOB_INTERVALS.items():
        last_run = now - (STALE_FOR if job == STALE_JOB else 1)
        lines += [
            f'inkwell_run_interval_seconds{{schedule="{job}"}} {interval}',
            f'inkwell_last_run_timestamp_seconds{{schedule="{job}"}} {last_run}',
        ]
    route = 'method="GET",route="/api/v1/posts"'
    lines += [
        f'inkwell_http_requests_total{{{route},status="200"}} {scrape * 50}',
        f'inkwell_http_requests_total{{{route},status="500"}} {scrape}',
        *_histogram("inkwell_http_request_duration_seconds", route, scrape),
    ]
    return "\n".join(lines) + "\n"


class _ContractMetrics(BaseHTTPRequestHandler):
    scrapes = count(1)

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {SCRAPE_TOKEN}":
            self.send_error(401)
            return
        body = _exposition(next(self.scrapes), time.time()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one line per scrape would flood the test output."""


@pytest.fixture(scope="session")
def contract_metrics_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ContractMetrics)
    thread = threading.Thread(target=server.serve_forever, name="contract-metrics", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def _successful_scrapes(server: Prometheus) -> float:
    result = server.query(f'sum_over_time(up{{job="{SCRAPE_JOB}"}}[1m])')["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


@pytest.fixture(scope="session")
def prometheus_server(prometheus_binary: str, contract_metrics_url: str) -> Iterator[Prometheus]:
    """Prometheus with the shipped rules, after three scrapes (so rates have points to work with)."""
    target = scrape_config(SCRAPE_JOB, contract_metrics_url, bearer_token=SCRAPE_TOKEN)
    with prometheus(prometheus_binary, scrape_configs=[target], rule_files=[ALERT_RULES_FILE]) as server:
        server.wait_until(lambda: _successful_scrapes(server) >= 3, timeout=30, what="three scrapes")
        yield server
