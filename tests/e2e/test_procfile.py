"""The Procfile, end to end: ``release``, then ``web`` (two granian workers), ``worker``, ``beat`` and ``flower`` as a
platform runs them, against PostgreSQL (a Heroku-style ``postgres://`` URL), Redis and a real SMTP server.

A client registers, receives and follows the verification link, logs in, writes and lists posts; the ops endpoint
and the metrics show that traffic; one request id is followed from the web log to the worker's "sent" line; no
secret reaches any log; and SIGTERM to every process group stops each process cleanly within Heroku's 30 s.

A real Prometheus scrapes ``web`` with the bearer token all along, with the shipped alert rules (their ``for:``
shortened): its query API returns the task counters, it accepts every query of the shipped dashboard, and stopping
the worker makes the no-worker alert fire.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from tests.conftest import DATABASE_PREFIX, REDIS_URL, _postgres_database
from tests.mail import SMTPServer, token_in
from tests.procfile import (
    HEROKU_STOP_SECONDS,
    ProcfileProcess,
    dyno_env,
    json_lines,
    read_procfile,
    run_to_completion,
    stop_all,
    wait_for,
)
from tests.prometheus import Prometheus, dashboard_queries, prometheus, scrape_config
from tests.servers import REPO_ROOT, free_port

pytestmark = pytest.mark.e2e

API = "/api/v1"
SUPERUSER = ("ops@example.com", "superuser-pass-e2e")
PASSWORD = "e2e-secret-password-91"
METRICS_TOKEN = "e2e-metrics-token-0123456789"
LIST_REQUESTS = 20
ASSETS = REPO_ROOT / "src" / "app" / "ops" / "assets"
SCRAPE_JOB = "inkwell-celery"


@pytest.fixture
def heroku_database_url(worker_id_suffix: str) -> str:
    url = _postgres_database(f"{DATABASE_PREFIX}_e2e{worker_id_suffix}")
    return url.replace("postgresql+psycopg://", "postgres://", 1)  # the form Heroku hands out


@pytest.fixture
def platform(
    heroku_database_url: str, redis_client: redis.Redis, smtp_server: SMTPServer, tmp_path: Path
) -> dict[str, str]:
    redis_client.flushdb()
    metrics_dir = tmp_path / "prometheus"
    return dyno_env(
        PORT=str(free_port()),
        DATABASE_URL=heroku_database_url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="e2e-" + "k" * 40,
        SMTP_URL=smtp_server.url,
        FIRST_SUPERUSER_EMAIL=SUPERUSER[0],
        FIRST_SUPERUSER_PASSWORD=SUPERUSER[1],
        FLOWER_BASIC_AUTH="ops:flower-pass",
        METRICS_BEARER_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        # Beat's first runs come one interval after it starts: seconds here, not the default half minute and hour.
        OUTBOX_RELAY_INTERVAL_SECONDS="2",
        TOKEN_CLEANUP_INTERVAL_SECONDS="2",
    )


def _metric(text: str, metric: str, /, **labels: str) -> float:
    """The value of one sample of the text exposition (labels given must match; others are ignored)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{metric}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{key}="{value}"' in (match.group(1) or "") for key, value in labels.items()):
            return float(match.group(2))
    raise AssertionError(f"no sample {metric}{labels}")


def test_procfile_processes_serve_a_user_and_stop_cleanly(
    platform: dict[str, str], smtp_server: SMTPServer, tmp_path: Path, prometheus_binary: str
) -> None:
    commands = read_procfile()
    assert set(commands) >= {"web", "worker", "beat", "release", "flower"}
    started = time.monotonic()
    release_output = run_to_completion("release", commands["release"], platform, tmp_path)
    assert "upgrade" in release_output.lower(), release_output

    flower_port = str(free_port())
    processes = [ProcfileProcess(name, commands[name], platform, tmp_path) for name in ("web", "worker", "beat")] + [
        ProcfileProcess("flower", commands["flower"], {**platform, "PORT": flower_port}, tmp_path)
    ]
    web, worker, beat, _ = processes
    exit_codes: dict[str, int | None] = {}
    base = f"http://127.0.0.1:{platform['PORT']}"
    scrape = scrape_config(SCRAPE_JOB, f"{base}/metrics", bearer_token=METRICS_TOKEN)
    try:
        with (
            httpx.Client(base_url=base, timeout=10) as client,
            prometheus(prometheus_binary, scrape_configs=[scrape], rule_files=[_quick_rules(tmp_path)]) as server,
        ):
            wait_for(lambda: client.get("/health").status_code == 200, "web answers")
            secrets = _user_journey(client, smtp_server, web, worker)
            secrets += [_ops_and_metrics(client, beat), METRICS_TOKEN]
            _prometheus_sees_the_tasks(server)
            exit_codes = stop_all([worker])
            _no_worker_alert_fires(server)
        _flower_needs_its_password(flower_port)
        exit_codes |= stop_all([process for process in processes if process is not worker])
    except BaseException:
        stop_all(processes)
        for process in processes:
            print(f"----- {process.name} -----\n{process.output}")  # noqa: T201  (shown by pytest on failure)
        raise

    for process in processes:
        print(f"{process.name}: exit {exit_codes[process.name]} after SIGTERM in {process.stopped_in:.1f} s")  # noqa: T201
    print(f"end to end: {time.monotonic() - started:.1f} s")  # noqa: T201
    assert exit_codes == {"web": 0, "worker": 0, "beat": 0, "flower": 0}, "\n".join(p.output for p in processes)
    assert all(p.stopped_in is not None and p.stopped_in < HEROKU_STOP_SECONDS for p in processes)
    _no_secret_in_any_log(processes, secrets)


def _user_journey(
    client: httpx.Client, smtp_server: SMTPServer, web: ProcfileProcess, worker: ProcfileProcess
) -> list[str]:
    """Register, verify, log in, write and list posts; return the secrets that went over the wire."""
    email, request_id = "e2e-reader@example.com", f"e2e-{uuid.uuid4().hex}"
    registered = client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD}, headers={"X-Request-ID": request_id}
    )
    assert registered.status_code == 201, registered.text
    assert registered.headers["x-request-id"] == request_id

    verification = smtp_server.wait_for_email(email, "verify", timeout=60)
    smtp_server.wait_for_email(email, "welcome", timeout=60)
    verify_token = token_in(verification)
    assert "https://inkwell.example/verify-email?token=" in verification.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    verified = client.post(f"{API}/auth/verify-email", json={"token": verify_token})
    assert (verified.status_code, verified.json()["is_verified"]) == (200, True)

    tokens = client.post(f"{API}/auth/login", data={"username": email, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    post = client.post(
        f"{API}/posts", headers=headers, json={"title": "From the Procfile", "content": "Hello.", "is_published": True}
    )
    assert post.status_code == 201, post.text
    draft = client.post(f"{API}/posts", headers=headers, json={"title": "Draft", "content": "Later."})
    assert draft.status_code == 201
    for _ in range(LIST_REQUESTS):  # a new connection each time, so both granian workers serve some
        listed = httpx.get(f"{client.base_url}{API}/posts", timeout=10)
        assert listed.status_code == 200
    assert [item["title"] for item in listed.json()["items"]] == ["From the Procfile"]
    mine = client.get(f"{API}/users/me/posts", headers=headers).json()
    assert {item["title"] for item in mine["items"]} == {"From the Procfile", "Draft"}

    # One request, followed from the web's access log to the worker's "sent" lines of both its emails.
    access = [line for line in json_lines(web) if line.get("logger") == "inkwell.access"]
    assert any(line["request_id"] == request_id and line["route"] == f"{API}/auth/register" for line in access)
    sent = [line for line in json_lines(worker) if re.fullmatch(r"email \S+ sent", line.get("message", ""))]
    assert [line["request_id"] for line in sent].count(request_id) == 2, sent
    return [PASSWORD, SUPERUSER[1], verify_token, tokens["access_token"], tokens["refresh_token"]]


def _ops_and_metrics(client: httpx.Client, beat: ProcfileProcess) -> str:
    """Check the ops report and the metrics as a superuser; return the superuser's access token."""
    login = client.post(f"{API}/auth/login", data={"username": SUPERUSER[0], "password": SUPERUSER[1]})
    assert login.status_code == 200, login.text
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    beat.wait_for_line("Sending due task cleanup-tokens")

    last: list[dict[str, Any]] = []

    def settled() -> dict[str, Any] | None:
        response = client.get(f"{API}/ops/queues", headers=admin)
        assert response.status_code == 200, response.text
        last[:] = [response.json()]
        report = last[0]
        ran = all(job["finished_at"] is not None for job in report["jobs"].values())
        done = report["outbox"]["pending"] == 0 and ran
        return report if done and report["workers"]["status"] == "ok" else None

    report = wait_for(settled, "outbox drained, workers online, a cleanup and a relay recorded", detail=lambda: last)
    assert report["broker"] == {
        "status": "ok",
        "detail": None,
        "queues": {"emails": 0, "maintenance": 0},
        "oldest_message_age_seconds": {"emails": 0, "maintenance": 0},
        "unacked": 0,
    }
    assert report["outbox"]["sent"] == 2
    assert report["outbox"]["failed"] == 0
    assert len(report["workers"]["online"]) == 1
    assert set(report["jobs"]) == {"beat", "outbox_relay", "token_cleanup"}
    assert not any(job["stale"] for job in report["jobs"].values()), report["jobs"]  # beat -> worker -> record

    assert client.get("/metrics").status_code == 401
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert metrics.status_code == 200
    text = metrics.text
    assert _metric(text, "inkwell_http_requests_total", route="/metrics", status="401") == 1
    # Counted across both web processes (multiprocess mode), so every request is there whichever served it.
    assert _metric(text, "inkwell_http_requests_total", route=f"{API}/posts", method="GET", status="200") == (
        LIST_REQUESTS
    )
    assert _metric(text, "inkwell_http_requests_total", route=f"{API}/auth/register", status="201") == 1
    assert _metric(text, "inkwell_http_request_duration_seconds_count", route=f"{API}/posts", method="GET") == (
        LIST_REQUESTS
    )
    assert _metric(text, "inkwell_broker_up") == 1
    assert _metric(text, "celery_queue_length", queue_name="emails") == 0
    assert _metric(text, "inkwell_database_up") == 1
    assert _metric(text, "inkwell_outbox_emails", status="sent") == 2
    assert _metric(text, "inkwell_outbox_oldest_pending_age_seconds") == 0
    assert _metric(text, "inkwell_last_run_timestamp_seconds", schedule="token_cleanup") > 0
    _task_metrics(client)
    return str(login.json()["access_token"])


def _task_metrics(client: httpx.Client) -> None:
    """The prefork worker's and beat's counts reach every web process through Redis, under the dyno's name."""
    send, relay = "workers.tasks.send_email", "workers.tasks.relay_outbox"

    def counted() -> str | None:
        text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
        return text if _metric(text, "celery_task_succeeded_total", name=send) == 2 else None

    text = wait_for(counted, "both emails counted as succeeded tasks")
    assert _metric(text, "celery_task_sent_total", name=send, queue_name="emails") == 2
    assert _metric(text, "celery_task_received_total", name=send, hostname="worker.1") == 2
    assert _metric(text, "celery_task_started_total", name=send, hostname="worker.1") == 2
    assert _metric(text, "celery_task_runtime_count", name=send, hostname="worker.1") == 2
    assert _metric(text, "celery_task_queue_wait_time_count", name=send, queue_name="emails") == 2
    # Beat published the relay; its pool process ran it.
    assert _metric(text, "celery_task_sent_total", name=relay, hostname="beat.1", queue_name="maintenance") >= 1
    assert _metric(text, "celery_task_succeeded_total", name=relay, hostname="worker.1") >= 1
    assert _metric(text, "celery_worker_up", hostname="worker.1") == 1
    assert _metric(text, "celery_active_process_count", queue_name="emails") == 2
    assert _metric(text, "inkwell_last_run_timestamp_seconds", schedule="beat") > time.time() - 30
    assert _metric(text, "inkwell_task_metrics_available") == 1


def _quick_rules(tmp_path: Path) -> Path:
    """The shipped alert rules with every ``for:`` cut to one evaluation, so an alert fires within the test."""
    rules = yaml.safe_load((ASSETS / "alert-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    path = tmp_path / "alert-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


def _prometheus_sees_the_tasks(server: Prometheus) -> None:
    """What the workers counted, scraped from ``web``, is in Prometheus; every dashboard query is accepted."""

    def sent() -> list[dict[str, Any]]:
        answer = server.query(f'sum(celery_task_succeeded_total{{job="{SCRAPE_JOB}",name="workers.tasks.send_email"}})')
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result if result and float(result[0]["value"][1]) == 2 else []

    server.wait_until(sent, timeout=30, what="two succeeded send_email tasks")
    time.sleep(2)  # two more evaluations of the rules on that data
    assert not any(alert["labels"]["alertname"] == "InkwellNoWorkerUp" for alert in server.alerts())
    for title, expr in dashboard_queries(ASSETS / "dashboard.json", {"__rate_interval": "1m", "job": SCRAPE_JOB}):
        answer = server.query(expr)
        assert answer["status"] == "success", (title, expr, answer)


def _no_worker_alert_fires(server: Prometheus) -> None:
    def firing() -> list[dict[str, Any]]:
        return [
            alert
            for alert in server.alerts()
            if alert["labels"]["alertname"] == "InkwellNoWorkerUp" and alert["state"] == "firing"
        ]

    alert = server.wait_until(firing, timeout=30, what="InkwellNoWorkerUp firing after the worker stopped")
    assert alert[0]["labels"]["severity"] == "critical"


def _flower_needs_its_password(port: str) -> None:
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: httpx.get(url, timeout=5).status_code == 401, "flower answers (401 without credentials)")
    assert httpx.get(url, auth=("ops", "flower-pass"), timeout=10).status_code == 200


def _no_secret_in_any_log(processes: list[ProcfileProcess], secrets: list[str]) -> None:
    logs = "\n".join(process.output for process in processes)
    for secret in [*secrets, "Authorization", "Bearer"]:
        assert secret not in logs, f"{secret[:12]}... is in the logs"
