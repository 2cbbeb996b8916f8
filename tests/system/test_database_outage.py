"""PostgreSQL going away: bounded 503s with problem details, never 500 or a hang, and recovery without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from app.application import create_app
from tests.conftest import make_settings
from tests.factories import API, unique_email
from tests.problems import retry_later
from tests.proxy import TcpRelay

OUTAGE_BUDGET_SECONDS = 8


@pytest.fixture
def relayed_client(postgres_url: str) -> Iterator[tuple[TestClient[Litestar], TcpRelay]]:
    url = make_url(postgres_url)
    with TcpRelay(url.host or "127.0.0.1", url.port or 5432) as relay:
        relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        settings = make_settings(relayed, DATABASE_CONNECT_TIMEOUT_SECONDS="2", DATABASE_POOL_TIMEOUT_SECONDS="2")
        with TestClient(app=create_app(settings)) as client:
            yield client, relay


def _timed(client: TestClient[Litestar], method: str, path: str, **kwargs: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    return response, time.monotonic() - started


def test_outage_gives_bounded_503s_and_the_app_recovers(
    relayed_client: tuple[TestClient[Litestar], TcpRelay],
) -> None:
    client, relay = relayed_client
    email = unique_email("outage")
    assert client.post(f"{API}/auth/register", json={"email": email, "password": "outage-pass"}).status_code == 201
    token = client.post(f"{API}/auth/login", data={"username": email, "password": "outage-pass"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/posts").status_code == 200

    relay.cut()
    for method, path, kwargs in [
        ("GET", f"{API}/posts", {}),
        ("GET", f"{API}/users/me", {"headers": headers}),
        ("POST", f"{API}/posts", {"headers": headers, "json": {"title": "t", "content": "c"}}),
        ("POST", f"{API}/auth/register", {"json": {"email": unique_email(), "password": "outage-pass"}}),
    ]:
        response, elapsed = _timed(client, method, path, **kwargs)
        assert response.status_code == 503, (path, response.text)
        assert retry_later(response, "The database is unavailable; try again shortly.") == 5
        assert elapsed < OUTAGE_BUDGET_SECONDS, (path, elapsed)
    ready = client.get("/health/ready")
    assert (ready.status_code, ready.json()["database"]["status"]) == (503, "unavailable")
    assert client.get("/health").status_code == 200

    relay.restore()
    assert client.get(f"{API}/posts").status_code == 200
    assert client.get(f"{API}/users/me", headers=headers).status_code == 200
    created = client.post(f"{API}/posts", headers=headers, json={"title": "back", "content": "again"})
    assert created.status_code == 201
    assert client.get("/health/ready").status_code == 200
