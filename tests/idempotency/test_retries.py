"""``Idempotency-Key`` over HTTP on both databases: a retry replays the first answer and does no second piece of work;
the same key with another request is 422; a failed request leaves its key free; keys are per caller and expire."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import redis
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from app.application import create_app
from app.auth.models import OneTimeToken, TokenPurpose
from app.core.settings import Settings
from app.emails.models import EmailKind, EmailOutbox, EmailStatus
from app.idempotency.models import IdempotencyKey
from tests.emails.outbox import fail_for_good, published_sends, rows_of
from tests.factories import API, Accounts, Actor, unique_email
from tests.problems import problem

POSTS = f"{API}/posts"
REPLAYED = "Idempotent-Replayed"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _post_body(title: str = "Retried") -> dict[str, Any]:
    return {"title": title, "content": "Written once, whatever the network does.", "is_published": True}


def _own_posts(client: TestClient[Litestar], author: Actor) -> int:
    response = client.get(f"{API}/users/me/posts", headers=author.headers)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def test_a_retried_post_is_created_once_and_the_first_answer_replayed(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    author, key = accounts.user(), _key()
    first = client.post(POSTS, json=_post_body(), headers={**author.headers, **key})
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers

    again = client.post(POSTS, json=_post_body(), headers={**author.headers, **key})
    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert again.headers["Location"] == first.headers["Location"] == f"{POSTS}/{first.json()['id']}"
    assert again.headers["Content-Type"].startswith("application/json")
    assert _own_posts(client, author) == 1

    # The same JSON with other spacing and key order is the same request.
    reordered = json.dumps(dict(reversed(list(_post_body().items()))), indent=2)
    headers = {**author.headers, **key, "Content-Type": "application/json"}
    assert client.post(POSTS, content=reordered, headers=headers).content == first.content
    assert _own_posts(client, author) == 1


def test_without_a_key_every_request_is_its_own(client: TestClient[Litestar], accounts: Accounts) -> None:
    author = accounts.user()
    for _ in range(2):
        assert client.post(POSTS, json=_post_body(), headers=author.headers).status_code == 201
    assert _own_posts(client, author) == 2


def test_the_same_key_with_another_body_or_path_is_422_and_changes_nothing(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    author, key = accounts.user(), _key()
    assert client.post(POSTS, json=_post_body("First"), headers={**author.headers, **key}).status_code == 201

    other_body = client.post(POSTS, json=_post_body("Second"), headers={**author.headers, **key})
    assert other_body.status_code == 422, other_body.text
    refusal = problem(other_body)
    assert refusal["type"] == "urn:inkwell:problem:validation-failed"
    assert refusal["errors"] == [
        {"field": "Idempotency-Key", "source": "header", "message": refusal["detail"]},
    ]
    assert "different request" in refusal["detail"]
    assert REPLAYED not in other_body.headers
    assert _own_posts(client, author) == 1


def test_keys_are_per_caller(client: TestClient[Litestar], accounts: Accounts) -> None:
    ada, grace, key = accounts.user(), accounts.user(), _key()
    mine = client.post(POSTS, json=_post_body(), headers={**ada.headers, **key})
    theirs = client.post(POSTS, json=_post_body(), headers={**grace.headers, **key})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert REPLAYED not in theirs.headers
    assert (_own_posts(client, ada), _own_posts(client, grace)) == (1, 1)


def test_an_expired_key_runs_its_request_again(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    author, key = accounts.user(), _key()
    first = client.post(POSTS, json=_post_body(), headers={**author.headers, **key})
    with Session(migrated) as session:
        row = session.scalars(select(IdempotencyKey).where(IdempotencyKey.key == key["Idempotency-Key"])).one()
        assert row.expires_at - row.created_at == timedelta(hours=24)
        session.execute(update(IdempotencyKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    later = client.post(POSTS, json=_post_body(), headers={**author.headers, **key})
    assert later.status_code == 201
    assert REPLAYED not in later.headers
    assert later.json()["id"] != first.json()["id"]
    assert _own_posts(client, author) == 2


@pytest.mark.parametrize("value", [b"", b" ", "é".encode(), b"x" * 256, b"two words"])
def test_a_malformed_key_is_422(client: TestClient[Litestar], accounts: Accounts, value: bytes) -> None:
    author = accounts.user()
    headers = {name.encode(): header.encode() for name, header in author.headers.items()}
    response = client.post(POSTS, json=_post_body(), headers={**headers, b"Idempotency-Key": value})
    assert response.status_code == 422, response.text
    assert _own_posts(client, author) == 0


def test_a_retried_registration_makes_one_account_and_mails_once(
    client: TestClient[Litestar], migrated: Engine
) -> None:
    body, key = {"email": unique_email("ada"), "password": "correct horse battery", "first_name": "Ada"}, _key()
    first = client.post(f"{API}/auth/register", json=body, headers=key)
    again = client.post(f"{API}/auth/register", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"
    kinds = sorted(row.kind for row in rows_of(migrated, body["email"]))
    assert kinds == sorted([EmailKind.WELCOME, EmailKind.VERIFY_EMAIL])

    # Without the key the address is taken, as always.
    assert client.post(f"{API}/auth/register", json=body).status_code == 409
    # Another password is another request.
    other = client.post(f"{API}/auth/register", json={**body, "password": "another good password"}, headers=key)
    assert other.status_code == 422


def test_a_retried_password_reset_request_mails_one_link(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    email, key = accounts.register()["email"], _key()
    answers = [client.post(f"{API}/auth/forgot-password", json={"email": email}, headers=key) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert answers[1].content == answers[2].content == answers[0].content
    with Session(migrated) as session:
        links = session.scalar(
            select(func.count()).select_from(OneTimeToken).where(OneTimeToken.purpose == TokenPurpose.RESET_PASSWORD)
        )
    assert links == 1
    assert [row.kind for row in rows_of(migrated, email)].count(EmailKind.RESET_PASSWORD) == 1


def test_a_retried_email_retry_requeues_once_and_answers_as_the_first(
    client: TestClient[Litestar],
    accounts: Accounts,
    settings: Settings,
    migrated: Engine,
    redis_client: redis.Redis,
) -> None:
    admin, email = accounts.superuser(), accounts.register()["email"]
    failed = fail_for_good(migrated, settings, email)[0]
    queued_before, key = published_sends(redis_client, failed.id), _key()

    first = client.post(f"{API}/ops/emails/{failed.id}/retry", headers={**admin.headers, **key})
    again = client.post(f"{API}/ops/emails/{failed.id}/retry", headers={**admin.headers, **key})
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.content == first.content
    assert published_sends(redis_client, failed.id) == queued_before + 1
    # The key belongs to this email: with another one's path it is another request.
    other = client.post(f"{API}/ops/emails/{uuid.uuid4()}/retry", headers={**admin.headers, **key})
    assert other.status_code == 422

    bulk_key = _key()
    everything = [
        client.post(f"{API}/ops/emails/retry", json={"failed_since": None}, headers={**admin.headers, **bulk_key})
        for _ in range(2)
    ]
    assert [answer.json() for answer in everything] == [{"retried": 1}, {"retried": 1}]


def test_a_request_that_fails_leaves_its_key_free_for_the_retry(
    client: TestClient[Litestar], accounts: Accounts, settings: Settings, migrated: Engine
) -> None:
    admin, email = accounts.superuser(), accounts.register()["email"]
    row = fail_for_good(migrated, settings, email)[0]
    with Session(migrated) as session:
        session.execute(update(EmailOutbox).where(EmailOutbox.id == row.id).values(status=EmailStatus.PENDING))
        session.commit()
    key = _key()
    refused = client.post(f"{API}/ops/emails/{row.id}/retry", headers={**admin.headers, **key})
    assert refused.status_code == 409, refused.text

    with Session(migrated) as session:
        session.execute(update(EmailOutbox).where(EmailOutbox.id == row.id).values(status=EmailStatus.FAILED))
        session.commit()
    retried = client.post(f"{API}/ops/emails/{row.id}/retry", headers={**admin.headers, **key})
    assert retried.status_code == 200, retried.text
    assert REPLAYED not in retried.headers
    assert retried.json()["status"] == "pending"


def _answer_not_yet_stored(engine: Engine, key: str) -> int:
    """Take the stored answer off ``key``, as it is while its first request has done the work but not answered;
    return its status."""
    with Session(engine) as session:
        status_code = session.scalars(select(IdempotencyKey.status_code).where(IdempotencyKey.key == key)).one()
        session.execute(update(IdempotencyKey).where(IdempotencyKey.key == key).values(status_code=None))
        session.commit()
    assert status_code is not None
    return status_code


def test_a_repeat_waits_for_the_first_answer_then_gets_409_to_retry(
    settings: Settings, migrated: Engine, empty_database: Engine
) -> None:
    short_wait = msgspec.structs.replace(settings, idempotency_wait_seconds=0.5)
    with TestClient(app=create_app(short_wait)) as client:
        author, key = Accounts(client, settings, migrated).user(), _key()
        first = client.post(POSTS, json=_post_body(), headers={**author.headers, **key})
        status_code = _answer_not_yet_stored(migrated, key["Idempotency-Key"])

        waited = client.post(POSTS, json=_post_body(), headers={**author.headers, **key})
        assert waited.status_code == 409, waited.text
        assert waited.headers["Retry-After"] == "1"
        assert problem(waited) == {
            "status": 409,
            "type": "urn:inkwell:problem:request-in-progress",
            "title": "The same request is in progress",
            "detail": "A request with this Idempotency-Key is still in progress; retry shortly",
            "retry_after": 1,
        }

        def answer_later() -> None:
            time.sleep(0.2)
            with Session(migrated) as session:
                session.execute(
                    update(IdempotencyKey)
                    .where(IdempotencyKey.key == key["Idempotency-Key"])
                    .values(status_code=status_code)
                )
                session.commit()

        answering = threading.Thread(target=answer_later)
        answering.start()
        replayed = client.post(POSTS, json=_post_body(), headers={**author.headers, **key})
        answering.join()
        assert replayed.status_code == 201, replayed.text
        assert replayed.content == first.content
        assert _own_posts(client, author) == 1
