"""Security headers, CORS, body limits, request ids and the access log."""

from __future__ import annotations

import json
import logging
import re

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from app.application import create_app
from app.core.pagination import MAX_PAGE_NUMBER, TOO_DEEP
from tests.conftest import make_settings
from tests.factories import API, Accounts
from tests.problems import PROBLEM_MEDIA_TYPE, about_blank, invalid_fields, problem

JSON = "application/json"
BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}


def test_security_headers_on_every_kind_of_response(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    responses = [
        client.get("/health"),
        client.get(f"{API}/users/me", headers=actor.headers),
        client.get(f"{API}/users/me"),
        client.get("/no/such/route"),
        client.post(f"{API}/auth/register", json={"email": "bad"}),
        client.delete("/health"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 404, 422, 405]
    for response in responses:
        for name, value in BASE_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.url, name)
        assert "strict-transport-security" not in response.headers
    assert [r.headers["content-type"] for r in responses] == [JSON, JSON, *[PROBLEM_MEDIA_TYPE] * 4]


def test_hsts_in_production(database_url: str) -> None:
    settings = make_settings(database_url, APP_ENV="production")
    with TestClient(app=create_app(settings)) as client:
        assert client.get("/health").headers["strict-transport-security"].startswith("max-age=")


def test_cors_exactly_as_configured(database_url: str, client: TestClient[Litestar]) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options(f"{API}/posts", headers=preflight).headers
    settings = make_settings(database_url, CORS_ORIGINS="https://app.example")
    with TestClient(app=create_app(settings)) as cors_client:
        allowed = cors_client.options(f"{API}/posts", headers=preflight)
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = cors_client.options(f"{API}/posts", headers={**preflight, "Origin": "https://evil.example"})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
        simple = cors_client.get("/health", headers={"Origin": "https://app.example"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example"


def test_oversized_body_is_413(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    body = json.dumps({"title": "big", "content": "x" * (1024 * 1024 + 1)})
    response = client.post(f"{API}/posts", content=body, headers={**actor.headers, "content-type": "application/json"})
    assert problem(response) == about_blank(413, "Request Entity Too Large")


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_json_is_a_quick_4xx(client: TestClient[Litestar], depth: int) -> None:
    nested = '{"email": "a@example.com", "password": "long-enough", "x": ' + "[" * depth + "]" * depth + "}"
    response = client.post(f"{API}/auth/register", content=nested, headers={"content-type": "application/json"})
    assert response.status_code in {201, 400, 413, 422}
    assert response.status_code != 500


def test_request_id_is_echoed_or_generated(client: TestClient[Litestar]) -> None:
    echoed = client.get("/health", headers={"X-Request-ID": "req-42.abc"})
    assert echoed.headers["x-request-id"] == "req-42.abc"
    generated = [client.get("/health").headers["x-request-id"] for _ in range(2)]
    assert all(len(request_id) == 24 and int(request_id, 16) >= 0 for request_id in generated)
    assert generated[0] != generated[1]
    forged = client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"[:10] + " " * 200})
    assert forged.headers["x-request-id"] != forged.request.headers["x-request-id"]


def test_one_access_log_line_per_request_without_secrets(
    client: TestClient[Litestar], accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    password = "log-me-never-123"
    with caplog.at_level(logging.INFO):
        actor = accounts.user(password=password)
        client.get(f"{API}/users/me", headers={**actor.headers, "X-Request-ID": "trace-me"})
        client.post(f"{API}/auth/refresh", json={"refresh_token": actor.refresh_token})
        client.get("/health")  # liveness probes are not logged
    access = [record for record in caplog.records if record.name == "inkwell.access"]
    assert [(r.method, r.route, r.status) for r in access] == [  # type: ignore[attr-defined]
        ("POST", "/api/v1/auth/register", 201),
        ("POST", "/api/v1/auth/login", 200),
        ("GET", "/api/v1/users/me", 200),
        ("POST", "/api/v1/auth/refresh", 200),
    ]
    me = access[2]
    assert me.request_id == "trace-me"  # type: ignore[attr-defined]
    assert me.duration_ms >= 0  # type: ignore[attr-defined]
    captured = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    for secret in (password, actor.access_token, actor.refresh_token, "Bearer"):
        assert secret not in captured


def test_nul_characters_are_refused_before_the_database(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    cases = [
        ("POST", f"{API}/auth/forgot-password", {"json": {"email": "a\x00b@example.com"}}),
        ("POST", f"{API}/auth/login", {"data": {"username": "a\x00@example.com", "password": "whatever"}}),
        ("POST", f"{API}/posts", {"json": {"title": "t\x00", "content": "c"}, "headers": actor.headers}),
        ("GET", f"{API}/posts", {"params": {"q": "x\x00y"}}),
        ("PUT", f"{API}/users/me/profile", {"json": {"bio": "\x00"}, "headers": actor.headers}),
    ]
    for method, path, kwargs in cases:
        response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert len(invalid_fields(response)) == 1, (path, response.text)


def test_options_allows_exactly_the_documented_methods(client: TestClient[Litestar]) -> None:
    """Every path of the OpenAPI document, asked ``OPTIONS`` (no token needed), lists exactly its documented methods,
    whichever controllers they live on."""
    document = client.get("/schema/openapi.json").json()
    any_id = "01a251ea-28e8-741f-9851-23b76ef0f073"
    answered = {}
    documented = {}
    for path, item in document["paths"].items():
        url = re.sub(r"\{\w+\}", any_id, path)
        response = client.options(url)
        assert response.status_code == 204, (path, response.text)
        answered[path] = sorted(method.strip() for method in response.headers["allow"].split(","))
        documented[path] = sorted({method.upper() for method in item if method != "parameters"} | {"OPTIONS"})
    assert answered == documented
    assert answered[f"{API}/posts"] == ["GET", "OPTIONS", "POST"]


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/posts", {"title": "T", "content": "C", "is_published": 0}, "is_published"),
        ("/posts", {"title": 7, "content": "C"}, "title"),
        ("/users/me", {"first_name": 5}, "first_name"),
        ("/auth/two-factor", {"password": ["not", "a", "string"]}, "password"),
    ],
)
def test_a_body_value_the_schema_refuses_is_refused_not_coerced(
    client: TestClient[Litestar], accounts: Accounts, path: str, body: dict[str, object], key: str
) -> None:
    actor = accounts.user()
    method = "PATCH" if path == "/users/me" else "POST"
    response = client.request(method, f"{API}{path}", json=body, headers=actor.headers)
    assert invalid_fields(response) == [("body", key)]
    assert problem(response)["errors"][0]["message"].startswith("Expected `")


def test_a_retry_window_must_be_a_timestamp_not_a_number(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin = accounts.superuser()
    response = client.post(f"{API}/ops/emails/retry", json={"failed_since": 0}, headers=admin.headers)
    assert invalid_fields(response) == [("body", "failed_since")]


def test_a_page_number_past_any_depth_is_422_not_a_server_error(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    actor = accounts.user()
    response = client.get(f"{API}/auth/events", params={"page": 2**61}, headers=actor.headers)
    assert response.status_code == 422
    deepest = client.get(f"{API}/auth/events", params={"page": MAX_PAGE_NUMBER}, headers=actor.headers)
    assert deepest.status_code == 200
    # The listings that page by cursor too refuse page numbers past their depth, pointing to the cursor.
    too_deep = client.get(f"{API}/posts", params={"page": MAX_PAGE_NUMBER})
    assert (too_deep.status_code, too_deep.json()["detail"]) == (400, TOO_DEEP)
