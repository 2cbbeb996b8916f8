"""``/api/v1/ops/emails`` over HTTP on both databases: failed emails listed, retried one by one and in bulk."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import redis
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from app.application import create_app
from app.core.settings import Settings
from app.emails.models import EmailKind, EmailStatus
from app.emails.schemas import mask_address
from tests.emails.outbox import fail_for_good, published_sends, rows_of
from tests.factories import API, Accounts, unique_email
from tests.mail import free_port
from tests.problems import about_blank, invalid_fields, problem

EMAILS = f"{API}/ops/emails"
ITEM_FIELDS = {
    "id",
    "template",
    "recipient",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
    "sent_at",
}


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("ada@example.com", "a***@example.com"),
        ("a@example.com", "a***@example.com"),
        ("odd@local@example.com", "o***@example.com"),
        ("@example.com", "***@example.com"),
        ("no-at-sign", "n***"),
        ("", "***"),
    ],
)
def test_an_address_is_masked_to_its_first_character_and_domain(address: str, masked: str) -> None:
    assert mask_address(address) == masked


def test_only_superusers_see_or_retry_emails(client: TestClient[Litestar], accounts: Accounts) -> None:
    calls = [
        ("GET", EMAILS, None),
        ("POST", f"{EMAILS}/retry", {"failed_since": None}),
        ("POST", f"{EMAILS}/{uuid.uuid4()}/retry", None),
    ]
    user = accounts.user()
    for method, path, body in calls:
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        forbidden = client.request(method, path, json=body, headers=user.headers)
        assert forbidden.status_code == 403, path
        assert problem(forbidden)["status"] == 403


def test_failed_emails_are_listed_newest_first_paginated_and_masked(
    client: TestClient[Litestar], accounts: Accounts, settings: Settings, migrated: Engine
) -> None:
    admin = accounts.superuser()
    older, healthy, newer = unique_email("ada"), unique_email("bob"), unique_email("cyd")
    for email in (older, healthy, newer):
        accounts.register(email)  # a welcome and a verification email each
    failed = [*fail_for_good(migrated, settings, older), *fail_for_good(migrated, settings, newer)]
    newest_first = [str(row.id) for row in sorted(failed, key=lambda row: row.created_at, reverse=True)]

    first = client.get(EMAILS, params={"status": "failed", "size": 3}, headers=admin.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["total"], body["page"], body["size"], body["pages"]) == (4, 1, 3, 2)
    second = client.get(EMAILS, params={"status": "failed", "size": 3, "page": 2}, headers=admin.headers).json()
    assert [item["id"] for item in body["items"] + second["items"]] == newest_first
    past_the_end = client.get(EMAILS, params={"status": "failed", "size": 3, "page": 3}, headers=admin.headers)
    assert (past_the_end.json()["items"], past_the_end.json()["total"]) == ([], 4)

    for item in body["items"] + second["items"]:
        assert set(item) == ITEM_FIELDS
        assert item["recipient"] in {"a***@example.com", "c***@example.com"}
        assert item["template"] in {EmailKind.WELCOME, EmailKind.VERIFY_EMAIL}
        assert (item["status"], item["attempts"], item["sent_at"]) == ("failed", 1, None)
        assert "ConnectionRefusedError" in item["last_error"]
        assert item["updated_at"] >= item["created_at"]
    for response in (first, past_the_end):
        assert older not in response.text
        assert newer not in response.text
        assert "token" not in response.text

    pending = client.get(EMAILS, params={"status": "pending"}, headers=admin.headers).json()
    assert {item["recipient"] for item in pending["items"]} == {"b***@example.com"}
    assert pending["total"] == 2
    everything = client.get(EMAILS, headers=admin.headers).json()
    assert everything["total"] == 6
    assert everything["items"][0]["recipient"] == "c***@example.com"


@pytest.mark.parametrize("params", [{"status": "lost"}, {"size": "0"}, {"page": "x"}])
def test_a_bad_listing_parameter_is_a_json_error(
    client: TestClient[Litestar], accounts: Accounts, params: dict[str, str]
) -> None:
    response = client.get(EMAILS, params=params, headers=accounts.superuser().headers)
    assert invalid_fields(response) == [("query", next(iter(params)))]


def test_retrying_one_failed_email_resets_it_and_enqueues_it(
    client: TestClient[Litestar],
    accounts: Accounts,
    settings: Settings,
    migrated: Engine,
    redis_client: redis.Redis,
) -> None:
    admin = accounts.superuser()
    email = accounts.register()["email"]
    by_kind = {row.kind: row for row in fail_for_good(migrated, settings, email)}
    verify, welcome = by_kind[EmailKind.VERIFY_EMAIL], by_kind[EmailKind.WELCOME]
    queued_before = published_sends(redis_client, verify.id)

    started = datetime.now(UTC)
    response = client.post(f"{EMAILS}/{verify.id}/retry", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"], body["attempts"], body["last_error"]) == (
        str(verify.id),
        "pending",
        0,
        None,
    )
    assert body["recipient"] == mask_address(email)
    stored = next(row for row in rows_of(migrated, email) if row.id == verify.id)
    assert (stored.status, stored.attempts, stored.last_error) == (EmailStatus.PENDING, 0, None)
    assert stored.next_attempt_at > started  # the relay's grace period starts again
    assert stored.payload["token"] == verify.payload["token"]  # the link can still be rendered
    assert published_sends(redis_client, verify.id) == queued_before + 1
    untouched = next(row for row in rows_of(migrated, email) if row.id == welcome.id)
    assert untouched.status == EmailStatus.FAILED

    again = client.post(f"{EMAILS}/{verify.id}/retry", headers=admin.headers)
    assert again.status_code == 409
    assert problem(again) == about_blank(409, "The email is pending; only failed emails can be retried")
    missing = client.post(f"{EMAILS}/{uuid.uuid4()}/retry", headers=admin.headers)
    assert problem(missing) == about_blank(404, "The requested resource was not found")
    malformed = client.post(f"{EMAILS}/not-an-id/retry", headers=admin.headers)
    assert invalid_fields(malformed) == [("path", "email_id")]


def test_bulk_retry_takes_every_failed_email_or_those_failed_since_a_time(
    client: TestClient[Litestar],
    accounts: Accounts,
    settings: Settings,
    migrated: Engine,
    redis_client: redis.Redis,
) -> None:
    admin = accounts.superuser()
    early, late, fine = unique_email(), unique_email(), unique_email()
    for email in (early, late, fine):
        accounts.register(email)
    fail_for_good(migrated, settings, early)
    time.sleep(0.01)
    since = datetime.now(UTC)
    fail_for_good(migrated, settings, late)

    recent = client.post(f"{EMAILS}/retry", json={"failed_since": since.isoformat()}, headers=admin.headers)
    assert recent.status_code == 200, recent.text
    assert recent.json() == {"retried": 2}
    assert {row.status for row in rows_of(migrated, late)} == {EmailStatus.PENDING}
    assert {row.status for row in rows_of(migrated, early)} == {EmailStatus.FAILED}
    assert {row.status for row in rows_of(migrated, fine)} == {EmailStatus.PENDING}

    everything = client.post(f"{EMAILS}/retry", json={"failed_since": None}, headers=admin.headers)
    assert everything.json() == {"retried": 2}
    retried = rows_of(migrated, early) + rows_of(migrated, late)
    assert all((row.status, row.attempts, row.last_error) == (EmailStatus.PENDING, 0, None) for row in retried)
    assert all(published_sends(redis_client, row.id) == 2 for row in retried)  # at registration, at the retry
    assert client.post(f"{EMAILS}/retry", json={}, headers=admin.headers).json() == {"retried": 0}


@pytest.mark.parametrize(
    "body", [{"failed_since": "2026-01-01T00:00:00"}, {"failed_since": "yesterday"}, {"failed_since": [1]}, []]
)
def test_a_bad_failed_since_is_a_json_error(client: TestClient[Litestar], accounts: Accounts, body: object) -> None:
    response = client.post(f"{EMAILS}/retry", json=body, headers=accounts.superuser().headers)
    field = "" if body == [] else "failed_since"
    assert invalid_fields(response) == [("body", field)]


def test_bulk_retry_walks_a_backlog_in_batches(
    client: TestClient[Litestar], settings: Settings, migrated: Engine, redis_client: redis.Redis
) -> None:
    small_batches = msgspec.structs.replace(settings, outbox_relay_batch_size=2)
    with TestClient(app=create_app(small_batches)) as batch_client:
        accounts = Accounts(batch_client, settings, migrated)
        admin = accounts.superuser()
        emails = [accounts.register()["email"] for _ in range(3)]
        failed = [row for email in emails for row in fail_for_good(migrated, settings, email)]
        response = batch_client.post(f"{EMAILS}/{failed[-1].id}/retry", headers=admin.headers)
        assert response.status_code == 200  # one of the six is pending again before the bulk retry

        bulk = batch_client.post(f"{EMAILS}/retry", json={}, headers=admin.headers)
    assert bulk.json() == {"retried": 5}  # two full batches and a last one of one
    rows = [row for email in emails for row in rows_of(migrated, email)]
    assert {row.status for row in rows} == {EmailStatus.PENDING}
    assert all(published_sends(redis_client, row.id) == 2 for row in rows)


def test_a_retry_with_the_broker_down_still_answers_and_leaves_the_emails_to_the_relay(
    client: TestClient[Litestar], settings: Settings, migrated: Engine
) -> None:
    dead_broker = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/14")
    with TestClient(app=create_app(dead_broker)) as offline_client:
        accounts = Accounts(offline_client, settings, migrated)
        admin = accounts.superuser()
        email = accounts.register()["email"]
        one, _ = fail_for_good(migrated, settings, email)
        started = datetime.now(UTC)
        assert offline_client.post(f"{EMAILS}/{one.id}/retry", headers=admin.headers).status_code == 200
        bulk = offline_client.post(f"{EMAILS}/retry", json={}, headers=admin.headers)
    assert bulk.json() == {"retried": 1}
    rows = rows_of(migrated, email)
    assert len(rows) == 2
    for row in rows:
        assert row.status == EmailStatus.PENDING
        # Due for the relay once its grace period is over, like an email whose first publish failed.
        assert row.next_attempt_at >= started + timedelta(seconds=settings.outbox_relay_after_seconds)
