"""Who may scrape ``GET /metrics``: open in development and test, a configured credential required anywhere, closed
in production without one; refusals read nothing and are counted as requests, answered scrapes are not."""

from __future__ import annotations

import base64
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from app.application import create_app
from app.ops.guards import credential_accepted
from tests.conftest import _unavailable, make_settings, migrate, process_environment
from tests.problems import problem
from tests.proxy import TcpRelay
from tests.servers import free_port, granian

TOKEN = "scrape-token-0123456789abcdef"
USER, PASSWORD = "prometheus", "basic-password-0123456789"
REFUSED = 'inkwell_http_requests_total{method="GET",route="/metrics",status="401"}'
ANSWERED = 'route="/metrics",status="200"'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# scheme: (settings, the right Authorization header, a wrong one)
CREDENTIALS = {
    "Bearer": ({"METRICS_BEARER_TOKEN": TOKEN}, f"Bearer {TOKEN}", f"Bearer {TOKEN[:-1]}x"),
    "Basic": ({"METRICS_BASIC_AUTH": f"{USER}:{PASSWORD}"}, basic(USER, PASSWORD), basic(USER, PASSWORD + "x")),
}


@contextmanager
def metrics_client(database_url: str, **overrides: str) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=create_app(make_settings(database_url, **overrides))) as client:
        yield client


def _assert_refused(response: httpx.Response, *schemes: str) -> None:
    body = problem(response)
    assert (body["status"], body["type"], body["title"]) == (401, "about:blank", "Unauthorized")
    assert isinstance(body["detail"], str)
    challenge = response.headers["www-authenticate"]
    assert [part.split()[0] for part in challenge.split(", ")] == list(schemes)


def test_open_in_the_test_environment_without_credentials(client: TestClient[Litestar]) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "inkwell_database_up 1.0" in response.text


@pytest.mark.parametrize("scheme", CREDENTIALS)
@pytest.mark.usefixtures("migrated")
def test_a_configured_credential_is_required(database_url: str, scheme: str) -> None:
    environ, right, wrong = CREDENTIALS[scheme]
    with metrics_client(database_url, **environ) as client:
        missing = client.get("/metrics")
        assert missing.status_code == 401
        _assert_refused(missing, scheme)
        assert "required" in missing.json()["detail"]
        for header in (wrong, "Bearer", "Basic !!!", "Digest x", basic(USER, "")):
            refused = client.get("/metrics", headers={"Authorization": header})
            assert refused.status_code == 401, header
            _assert_refused(refused, scheme)

        scrape = client.get("/metrics", headers={"Authorization": right})
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain")
        # The refusals are traffic (someone probing); the answered scrapes, this one and the next, are not.
        assert f"{REFUSED} 6.0" in scrape.text
        again = client.get("/metrics", headers={"Authorization": right}).text
        assert f"{REFUSED} 6.0" in again
        assert ANSWERED not in again


@pytest.mark.usefixtures("migrated")
def test_either_credential_is_accepted_when_both_are_set(database_url: str) -> None:
    environ = {**CREDENTIALS["Bearer"][0], **CREDENTIALS["Basic"][0]}
    with metrics_client(database_url, **environ) as client:
        refused = client.get("/metrics")
        _assert_refused(refused, "Bearer", "Basic")
        for _, right, _ in CREDENTIALS.values():
            assert client.get("/metrics", headers={"Authorization": right}).status_code == 200


@pytest.mark.usefixtures("migrated")
def test_production_without_a_credential_is_closed(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="app.ops.guards"):
        app = create_app(make_settings(database_url, APP_ENV="production"))
    warnings = [record.getMessage() for record in caplog.records if record.name == "app.ops.guards"]
    assert warnings == ["/metrics refuses every request: set METRICS_BEARER_TOKEN or METRICS_BASIC_AUTH"]
    with TestClient(app=app) as client:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            response = client.get("/metrics", headers=headers)
            assert response.status_code == 401
            _assert_refused(response, "Bearer", "Basic")
            assert "METRICS_BEARER_TOKEN or METRICS_BASIC_AUTH" in response.json()["detail"]


@pytest.mark.usefixtures("migrated")
def test_production_with_a_token_requires_it(database_url: str) -> None:
    environ, right, _ = CREDENTIALS["Bearer"]
    with metrics_client(database_url, APP_ENV="production", **environ) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": right}).status_code == 200


def test_a_refused_request_reads_neither_the_broker_nor_the_database(
    postgres_url: str, redis_client: redis.Redis
) -> None:
    """Both services sit behind relays that count what the app sends them: a refusal sends nothing."""
    database = make_url(postgres_url)
    broker = redis_client.connection_pool.connection_kwargs
    with (
        TcpRelay(database.host or "127.0.0.1", database.port or 5432) as database_relay,
        TcpRelay(broker["host"], broker["port"]) as broker_relay,
    ):
        environ, right, wrong = CREDENTIALS["Bearer"]
        settings = make_settings(
            database.set(port=database_relay.port).render_as_string(hide_password=False),
            REDIS_URL=f"redis://127.0.0.1:{broker_relay.port}/{broker['db']}",
            **environ,
        )
        relays = (database_relay, broker_relay)
        with TestClient(app=create_app(settings)) as client:
            # A first scrape opens the connections, so the next one's traffic is queries, not connecting.
            assert client.get("/metrics", headers={"Authorization": right}).status_code == 200
            before = [relay.bytes_to_target for relay in relays]
            for headers in ({}, {"Authorization": wrong}):
                assert client.get("/metrics", headers=headers).status_code == 401
            assert [relay.bytes_to_target for relay in relays] == before

            assert client.get("/metrics", headers={"Authorization": right}).status_code == 200
            assert all(relay.bytes_to_target > sent for relay, sent in zip(relays, before, strict=True))


def _prometheus_job(name: str, target: str, credential: dict[str, object]) -> dict[str, object]:
    return {"job_name": name, "metrics_path": "/metrics", "static_configs": [{"targets": [target]}], **credential}


def test_prometheus_scrapes_with_either_credential_and_is_refused_with_a_wrong_one(tmp_path: Path) -> None:
    """A real Prometheus, configured as the README says, against the served app in production."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        _unavailable("prometheus is not installed (Debian: apt-get install prometheus)")
    env = process_environment(
        migrate(f"sqlite:///{tmp_path / 'scraped.sqlite3'}"),
        APP_ENV="production",
        METRICS_BEARER_TOKEN=TOKEN,
        METRICS_BASIC_AUTH=f"{USER}:{PASSWORD}",
    )
    with granian("app.main:app", "asgi", env) as url:
        target = url.removeprefix("http://")
        jobs = [
            _prometheus_job("inkwell-celery", target, {"authorization": {"type": "Bearer", "credentials": TOKEN}}),
            _prometheus_job("inkwell-celery-basic", target, {"basic_auth": {"username": USER, "password": PASSWORD}}),
            _prometheus_job("inkwell-celery-wrong", target, {"authorization": {"credentials": TOKEN + "x"}}),
        ]
        config = tmp_path / "prometheus.yml"  # JSON is YAML
        config.write_text(json.dumps({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}))
        port = free_port()
        command = [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
            try:
                api = f"http://127.0.0.1:{port}/api/v1/query"
                up = _query_until(api, "up", len(jobs))
                # Once each job that gets through has seen three refusals, it has also scraped after its own scrapes.
                _query_until(api, 'inkwell_http_requests_total{route="/metrics",status="401"} >= 3', 2)
                seen = _query_until(api, 'inkwell_http_requests_total{route="/metrics"}', 2)
            finally:
                server.terminate()
    assert {sample["metric"]["job"]: sample["value"][1] for sample in up} == {
        "inkwell-celery": "1",
        "inkwell-celery-basic": "1",
        "inkwell-celery-wrong": "0",
    }
    # The refusals are counted as requests; the answered scrapes never are.
    assert {(sample["metric"]["job"], sample["metric"]["status"]) for sample in seen} == {
        ("inkwell-celery", "401"),
        ("inkwell-celery-basic", "401"),
    }


def _query_until(api: str, query: str, series: int, timeout: float = 30) -> list[dict[str, Any]]:
    """The samples of a PromQL ``query`` once it returns at least ``series`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result: list[dict[str, Any]] = httpx.get(api, params={"query": query}, timeout=2).json()["data"]["result"]
        except (httpx.TransportError, ValueError, KeyError):
            result = []
        if len(result) >= series:
            return result
        assert time.monotonic() < deadline, f"{query}: {result}"
        time.sleep(0.5)


@pytest.mark.parametrize(
    ("authorization", "accepted"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer   {TOKEN} ", True),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        (f"Token {TOKEN}", False),
        (basic(USER, PASSWORD), True),
        (f"basic {basic(USER, PASSWORD).split()[1]}", True),
        (basic(USER, PASSWORD[:-1]), False),
        (basic(USER.upper(), PASSWORD), False),
        ("Basic not-base64!", False),
        (f"Basic {base64.b64encode(TOKEN.encode()).decode()}", False),
        (f"Bearer {basic(USER, PASSWORD).split()[1]}", False),
        ("Bearer tökén", False),
        ("Bearer", False),
        ("", False),
        (None, False),
    ],
)
def test_the_credential_check(authorization: str | None, *, accepted: bool) -> None:
    assert credential_accepted(authorization, bearer_token=TOKEN, basic_auth=f"{USER}:{PASSWORD}") is accepted


def test_a_scheme_without_a_configured_secret_accepts_nothing() -> None:
    assert not credential_accepted(f"Bearer {TOKEN}", bearer_token=None, basic_auth=f"{USER}:{PASSWORD}")
    assert not credential_accepted(basic(USER, PASSWORD), bearer_token=TOKEN, basic_auth=None)


def test_a_non_ascii_password_is_compared_as_utf8_bytes() -> None:
    password = "pässwörd-0123456789"
    header = basic(USER, password)
    assert credential_accepted(header, bearer_token=None, basic_auth=f"{USER}:{password}")
