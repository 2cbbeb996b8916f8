"""Abuse limits per client IP, shared through Redis, 429 with Retry-After (per account: ``test_lockout``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from litestar import Litestar
from litestar.testing import TestClient

from app.application import create_app
from app.core.settings import Settings
from tests.conftest import make_settings
from tests.factories import API, DEFAULT_PASSWORD, Accounts
from tests.problems import retry_later
from tests.servers import free_port

LOGIN = f"{API}/auth/login"
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


@contextmanager
def limited_client(database_url: str, **limits: str) -> Iterator[TestClient[Litestar]]:
    settings = make_settings(database_url, RATE_LIMITS_ENABLED="true", TRUSTED_PROXY_HOPS="1", **limits)
    with TestClient(app=create_app(settings)) as client:
        yield client


def _login(client: TestClient[Litestar], email: str, address: str, password: str = DEFAULT_PASSWORD) -> int:
    response = client.post(
        LOGIN, data={"username": email, "password": password}, headers={"X-Forwarded-For": f"10.0.0.1, {address}"}
    )
    if response.status_code == 429:
        assert 1 <= retry_later(response, "Too many requests; retry later") <= 60
    return response.status_code


def test_login_is_limited_per_client_ip_across_processes(
    accounts: Accounts, settings: Settings, redis_url: str
) -> None:
    email = accounts.register()["email"]
    address = next(_addresses)
    # Two apps stand for two web processes: the budget lives in Redis, so they share it.
    with (
        limited_client(settings.database_url, REDIS_URL=redis_url, RATE_LIMIT_LOGIN_IP="3/minute") as first,
        limited_client(settings.database_url, REDIS_URL=redis_url, RATE_LIMIT_LOGIN_IP="3/minute") as second,
    ):
        assert [_login(first, email, address), _login(second, email, address), _login(first, email, address)] == [
            200,
            200,
            200,
        ]
        assert _login(second, email, address) == 429
        assert _login(first, email, address, password="wrong-password") == 429
        assert _login(first, email, next(_addresses)) == 200


def test_forwarded_for_is_ignored_without_a_trusted_proxy(
    accounts: Accounts, settings: Settings, redis_url: str
) -> None:
    # Every request here comes from the test client's one address: start from an empty budget.
    redis.Redis.from_url(redis_url).flushdb()
    email = accounts.register()["email"]
    limits = make_settings(
        settings.database_url, RATE_LIMITS_ENABLED="true", REDIS_URL=redis_url, RATE_LIMIT_LOGIN_IP="2/minute"
    )
    with TestClient(app=create_app(limits)) as client:
        spoofed = [
            client.post(LOGIN, data={"username": email, "password": DEFAULT_PASSWORD}, headers={"X-Forwarded-For": ip})
            for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3")
        ]
    assert [r.status_code for r in spoofed] == [200, 200, 429]


def test_register_and_refresh_are_limited(accounts: Accounts, settings: Settings, redis_url: str) -> None:
    actor = accounts.user()
    address = next(_addresses)
    headers = {"X-Forwarded-For": address}
    with limited_client(
        settings.database_url, REDIS_URL=redis_url, RATE_LIMIT_REGISTER_IP="1/hour", RATE_LIMIT_REFRESH_IP="1/minute"
    ) as client:
        first = client.post(
            f"{API}/auth/register", json={"email": "r1@example.com", "password": "long-enough"}, headers=headers
        )
        second = client.post(
            f"{API}/auth/register", json={"email": "r2@example.com", "password": "long-enough"}, headers=headers
        )
        assert (first.status_code, second.status_code) == (201, 429)
        assert int(second.headers["retry-after"]) > 60
        refreshed = client.post(f"{API}/auth/refresh", json={"refresh_token": actor.refresh_token}, headers=headers)
        again = client.post(f"{API}/auth/refresh", json={"refresh_token": "whatever"}, headers=headers)
        assert (refreshed.status_code, again.status_code) == (200, 429)


def test_without_redis_limits_fall_back_to_each_process(accounts: Accounts, settings: Settings) -> None:
    email = accounts.register()["email"]
    address = next(_addresses)
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    with limited_client(settings.database_url, REDIS_URL=dead_redis, RATE_LIMIT_LOGIN_IP="2/minute") as client:
        assert [_login(client, email, address) for _ in range(3)] == [200, 200, 429]


def test_forgot_password_and_verify_resend_are_limited(accounts: Accounts, settings: Settings, redis_url: str) -> None:
    actor = accounts.user()
    headers = {"X-Forwarded-For": next(_addresses)}
    with limited_client(
        settings.database_url,
        REDIS_URL=redis_url,
        RATE_LIMIT_FORGOT_PASSWORD_IP="1/hour",
        RATE_LIMIT_VERIFY_RESEND_IP="1/hour",
    ) as client:
        forgot = [
            client.post(f"{API}/auth/forgot-password", json={"email": actor.email}, headers=headers).status_code
            for _ in range(2)
        ]
        resend = [
            client.post(f"{API}/auth/verify-email/resend", headers={**headers, **actor.headers}).status_code
            for _ in range(2)
        ]
    assert (forgot, resend) == ([202, 429], [202, 429])
