"""Every error is problem details (RFC 9457), over HTTP on both databases: one test per kind of failure, each reading
the whole body as a client would, and the OpenAPI document promising exactly that."""

from __future__ import annotations

import ipaddress
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import litestar
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from app.application import create_app
from app.core.settings import Settings
from tests.conftest import make_settings
from tests.factories import API, Accounts, unique_email
from tests.problems import PROBLEM_MEDIA_TYPE, about_blank, invalid_fields, problem, retry_later

REGISTER = f"{API}/auth/register"
SECRET = "SELECT password_hash FROM user_account"


def test_a_service_error_keeps_its_message(client: TestClient[Litestar], accounts: Accounts) -> None:
    email = accounts.register()["email"]
    response = client.post(REGISTER, json={"email": email, "password": "another-password"})
    assert problem(response) == about_blank(409, "A user with this email already exists")


def test_every_invalid_member_of_a_body_is_named(client: TestClient[Litestar], accounts: Accounts) -> None:
    response = client.post(f"{API}/posts", json={"title": 7, "is_published": "yes"}, headers=accounts.user().headers)
    body = problem(response)
    assert (body["type"], body["title"]) == ("urn:inkwell:problem:validation-failed", "The request has invalid values")
    assert body["detail"] == f"Validation failed for POST {API}/posts"
    assert body["errors"] == [
        {"field": "title", "source": "body", "message": "Expected `str`, got `int`"},
        {"field": "content", "source": "body", "message": "Object missing required field `content`"},
        {"field": "is_published", "source": "body", "message": "Expected `bool`, got `str`"},
    ]


def test_invalid_path_and_query_values_are_named_together(client: TestClient[Litestar]) -> None:
    response = client.get(f"{API}/users/not-an-id/posts", params={"page": 0, "size": "many"})
    assert invalid_fields(response) == [("path", "user_id"), ("query", "page"), ("query", "size")]
    assert [error["message"] for error in problem(response)["errors"]] == [
        "Invalid UUID",
        "Expected `int` >= 1",
        "Expected `int`, got `str`",
    ]


# The second is a value of the wrong type, then bytes that are not JSON: the JSON is refused, not the value.
@pytest.mark.parametrize("content", [b"{title: 't'}", b"7\x10[0=\xffC"])
def test_malformed_json_is_a_400(client: TestClient[Litestar], accounts: Accounts, content: bytes) -> None:
    headers = {**accounts.user().headers, "content-type": "application/json"}
    response = client.post(f"{API}/posts", content=content, headers=headers)
    body = problem(response)
    assert body | {"detail": ""} == about_blank(400, "")
    assert body["detail"].startswith("JSON is malformed")


def test_a_missing_token_or_wrong_password_is_a_401_with_a_challenge(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    anonymous = client.get(f"{API}/users/me")
    assert problem(anonymous) == about_blank(401, "No JWT token found in request header")
    wrong = client.post(f"{API}/auth/login", data={"username": accounts.register()["email"], "password": "wrong"})
    assert problem(wrong) == about_blank(401, "Incorrect email or password")
    assert anonymous.headers["www-authenticate"] == wrong.headers["www-authenticate"] == "Bearer"


def test_a_refused_role_is_a_403(client: TestClient[Litestar], accounts: Accounts) -> None:
    response = client.get(f"{API}/users", headers=accounts.user().headers)
    assert problem(response) == about_blank(403, "Superuser privileges are required")


def test_an_unknown_route_and_a_missing_resource_are_404s(client: TestClient[Litestar]) -> None:
    assert problem(client.get(f"{API}/nothing/here")) == about_blank(404, "Not Found")
    missing = client.get(f"{API}/posts/{uuid.uuid4()}")
    assert problem(missing) == about_blank(404, "The requested resource was not found")


def test_an_unsupported_method_is_a_405_naming_the_allowed_ones(client: TestClient[Litestar]) -> None:
    response = client.delete("/health")
    assert problem(response) == about_blank(405, "Method Not Allowed")
    assert sorted(response.headers["allow"].split(", ")) == ["GET", "OPTIONS"]


def test_a_stale_if_match_is_a_412(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    response = client.patch(f"{API}/users/me", json={"first_name": "A"}, headers={**actor.headers, "If-Match": '"x"'})
    assert problem(response) == about_blank(
        412, "The resource changed since the ETag in If-Match was read; read it again and retry"
    )


def test_a_body_over_the_limit_is_a_413(client: TestClient[Litestar], accounts: Accounts) -> None:
    headers = {**accounts.user().headers, "content-type": "application/json"}
    oversized = json.dumps({"title": "big", "content": "x" * (1024 * 1024)})
    response = client.post(f"{API}/posts", content=oversized, headers=headers)
    assert problem(response) == about_blank(413, "Request Entity Too Large")


def test_a_rate_limit_is_a_429_with_retry_after(settings: Settings, redis_url: str) -> None:
    limited = make_settings(
        settings.database_url,
        RATE_LIMITS_ENABLED="true",
        TRUSTED_PROXY_HOPS="1",
        REDIS_URL=redis_url,
        RATE_LIMIT_FORGOT_PASSWORD_IP="1/hour",
    )
    # An address of its own, so the budget is this test's alone.
    headers = {"X-Forwarded-For": str(ipaddress.IPv6Address(uuid.uuid4().int))}
    with TestClient(app=create_app(limited)) as client:
        asked = [client.post(f"{API}/auth/forgot-password", json={"email": unique_email()}, headers=headers)]
        asked.append(client.post(f"{API}/auth/forgot-password", json={"email": unique_email()}, headers=headers))
    assert asked[0].status_code == 202
    assert 1 <= retry_later(asked[1], "Too many requests; retry later") <= 3600


@contextmanager
def _writes_blocked(database_url: str) -> Iterator[None]:
    """Another connection holds the accounts table against every writer (and on PostgreSQL every reader)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        writer = sqlite3.connect(str(url.database), isolation_level=None)
        writer.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            writer.close()
    else:
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as locker:
            locker.execute("LOCK TABLE user_account IN ACCESS EXCLUSIVE MODE")
            yield
            locker.rollback()


@pytest.mark.usefixtures("empty_database")
def test_a_database_that_does_not_answer_is_a_503_with_retry_after(database_url: str) -> None:
    """The database cannot serve the write in time (on SQLite, its busy timeout; on PostgreSQL, the statement
    timeout), as in an outage (``tests/system/test_database_outage`` cuts the connection itself)."""
    impatient = make_settings(database_url, DATABASE_STATEMENT_TIMEOUT_MS="300")
    with TestClient(app=create_app(impatient)) as client, _writes_blocked(database_url):
        response = client.post(REGISTER, json={"email": unique_email(), "password": "long-enough"})
    assert retry_later(response, "The database is unavailable; try again shortly.") == 5


def test_an_unexpected_failure_is_a_500_that_shows_nothing(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    @litestar.get("/explode", exclude_from_auth=True, sync_to_thread=False)
    def explode() -> None:
        raise RuntimeError(SECRET)

    app = create_app(settings)
    app.register(explode)
    errors = logging.getLogger("app.core.error_responses")
    with TestClient(app=app) as client:
        # Added once the app has configured logging, which replaces the handlers that were there.
        errors.addHandler(caplog.handler)
        try:
            response = client.get("/explode")
        finally:
            errors.removeHandler(caplog.handler)
    assert problem(response) == about_blank(
        500, "The server failed to answer the request; the request id identifies it in the server's logs."
    )
    assert SECRET not in response.text
    (logged,) = [record for record in caplog.records if record.name == "app.core.error_responses"]
    assert logged.exc_info is not None
    assert SECRET in str(logged.exc_info[1])
    assert logged.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]


def test_the_document_promises_problem_details_for_every_error(client: TestClient[Litestar]) -> None:
    document = client.get("/schema/openapi.json").json()
    schemas = {409: "ConflictProblem", 422: "ValidationProblem", 429: "RetryLaterProblem", 503: "RetryLaterProblem"}
    documented = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation.get("responses", {}).items():
                if int(code) < 400 or operation["operationId"] == "readiness":
                    continue  # readiness answers 503 with its report, a status rather than an error
                expected = f"#/components/schemas/{schemas.get(int(code), 'Problem')}"
                assert response["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": expected}}}, (path, method)
                documented += 1
    assert documented > 100
    components = document["components"]["schemas"]
    assert components["ValidationProblem"]["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/FieldError"
    }
    assert "retry_after" in components["RetryLaterProblem"]["required"]
    assert "retry_after" not in components["ConflictProblem"]["required"]
