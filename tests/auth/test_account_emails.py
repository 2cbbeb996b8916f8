"""Verification and password reset over HTTP, with the tokens read from the outbox rows (no worker needed)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.application import create_app
from app.auth.models import OneTimeToken
from app.core.settings import Settings
from app.emails.models import EmailKind, EmailStatus
from app.users.models import User
from tests.emails.outbox import rows_of, tokens_of
from tests.factories import API, DEFAULT_PASSWORD, Accounts, unique_email
from tests.problems import about_blank, problem

VERIFY = f"{API}/auth/verify-email"
RESEND = f"{API}/auth/verify-email/resend"
FORGOT = f"{API}/auth/forgot-password"
RESET = f"{API}/auth/reset-password"
LOGIN = f"{API}/auth/login"


def test_registration_writes_welcome_and_verification_rows(accounts: Accounts, migrated: Engine) -> None:
    body = accounts.register(first_name="Ada")
    rows = rows_of(migrated, body["email"])
    assert sorted(row.kind for row in rows) == [EmailKind.VERIFY_EMAIL, EmailKind.WELCOME]
    assert all(row.status == EmailStatus.PENDING and str(row.user_id) == body["id"] for row in rows)
    (verify,) = [row for row in rows if row.kind == EmailKind.VERIFY_EMAIL]
    assert verify.payload["name"] == "Ada"
    assert verify.payload["expires_in"] == "48 hours"


def test_a_refused_registration_writes_no_email(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    email = accounts.register()["email"]
    assert client.post(f"{API}/auth/register", json={"email": email, "password": "whatever-pass"}).status_code == 409
    assert len(rows_of(migrated, email)) == 2


def test_verify_email_with_the_mailed_token(client: TestClient[Litestar], accounts: Accounts, migrated: Engine) -> None:
    actor = accounts.user()
    (token,) = tokens_of(migrated, actor.email, EmailKind.VERIFY_EMAIL)
    response = client.post(VERIFY, json={"token": token})
    assert response.status_code == 200, response.text
    assert response.json()["is_verified"] is True
    assert problem(client.post(VERIFY, json={"token": token})) == about_blank(
        400, "Invalid, expired or already used token"
    )


def test_bad_verification_tokens_are_400(client: TestClient[Litestar], accounts: Accounts, migrated: Engine) -> None:
    actor = accounts.user()
    client.post(FORGOT, json={"email": actor.email})
    (reset_token,) = tokens_of(migrated, actor.email, EmailKind.RESET_PASSWORD)
    (verify_token,) = tokens_of(migrated, actor.email, EmailKind.VERIFY_EMAIL)
    assert client.post(VERIFY, json={"token": "x" * 43}).status_code == 400
    assert client.post(VERIFY, json={"token": reset_token}).status_code == 400  # a token for another purpose
    with Session(migrated) as session:
        session.execute(update(OneTimeToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    assert client.post(VERIFY, json={"token": verify_token}).status_code == 400
    assert client.post(VERIFY, json={}).status_code == 422


def test_resend_needs_a_bearer_and_an_unverified_address(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    assert client.post(RESEND).status_code == 401
    response = client.post(RESEND, headers=actor.headers)
    assert response.status_code == 202
    assert response.json() == {"detail": "A new verification link is on its way."}
    tokens = tokens_of(migrated, actor.email, EmailKind.VERIFY_EMAIL)
    assert len(tokens) == 2
    assert client.post(VERIFY, json={"token": tokens[0]}).status_code == 200  # an older link still works once
    assert client.post(VERIFY, json={"token": tokens[1]}).status_code == 400  # verifying spends the others
    conflict = client.post(RESEND, headers=actor.headers)
    assert conflict.status_code == 409


def test_forgot_password_answers_the_same_for_unknown_and_known_accounts(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    stranger = unique_email("stranger")
    known = client.post(FORGOT, json={"email": actor.email})
    unknown = client.post(FORGOT, json={"email": stranger})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert rows_of(migrated, stranger) == []
    assert len(tokens_of(migrated, actor.email, EmailKind.RESET_PASSWORD)) == 1


def test_forgot_password_takes_as_long_either_way(settings: Settings, migrated: Engine, accounts: Accounts) -> None:
    padded = msgspec.structs.replace(settings, forgot_password_min_seconds=0.25)
    email = accounts.register()["email"]
    with TestClient(app=create_app(padded)) as padded_client:

        def timed(address: str) -> float:
            started = time.monotonic()
            assert padded_client.post(FORGOT, json={"email": address}).status_code == 202
            return time.monotonic() - started

        known, unknown = timed(email), timed(unique_email("stranger"))
    assert known >= 0.25
    assert unknown >= 0.25
    assert abs(known - unknown) < 0.1


def test_reset_password_with_the_mailed_token(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    client.post(FORGOT, json={"email": actor.email})
    (token,) = tokens_of(migrated, actor.email, EmailKind.RESET_PASSWORD)
    assert client.post(RESET, json={"token": token, "password": "short"}).status_code == 422
    assert client.post(RESET, json={"token": token, "password": "brand new secret"}).status_code == 204
    assert client.post(LOGIN, data={"username": actor.email, "password": DEFAULT_PASSWORD}).status_code == 401
    assert client.post(LOGIN, data={"username": actor.email, "password": "brand new secret"}).status_code == 200
    assert client.post(f"{API}/auth/refresh", json={"refresh_token": actor.refresh_token}).status_code == 401
    assert client.post(RESET, json={"token": token, "password": "third secret!"}).status_code == 400
    changed = [row for row in rows_of(migrated, actor.email) if row.kind == EmailKind.PASSWORD_CHANGED]
    assert len(changed) == 1


def test_a_new_reset_token_voids_the_older_ones(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    client.post(FORGOT, json={"email": actor.email})
    client.post(FORGOT, json={"email": actor.email})
    older, newer = tokens_of(migrated, actor.email, EmailKind.RESET_PASSWORD)
    assert client.post(RESET, json={"token": older, "password": "brand new secret"}).status_code == 400
    assert client.post(RESET, json={"token": newer, "password": "brand new secret"}).status_code == 204


def test_reset_tokens_expire_after_an_hour(client: TestClient[Litestar], accounts: Accounts, migrated: Engine) -> None:
    actor = accounts.user()
    client.post(FORGOT, json={"email": actor.email})
    (token,) = tokens_of(migrated, actor.email, EmailKind.RESET_PASSWORD)
    with Session(migrated) as session:
        stored = session.scalars(select(OneTimeToken).where(OneTimeToken.purpose == "reset_password")).one()
        assert stored.expires_at - stored.created_at == timedelta(hours=1)
        assert stored.token_hash != token  # only the hash is stored
        stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()
    assert client.post(RESET, json={"token": token, "password": "brand new secret"}).status_code == 400


def test_inactive_accounts_get_no_reset_email(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    with Session(migrated) as session:
        session.execute(update(User).where(User.id == uuid.UUID(actor.id)).values(is_active=False))
        session.commit()
    assert client.post(FORGOT, json={"email": actor.email}).status_code == 202
    assert tokens_of(migrated, actor.email, EmailKind.RESET_PASSWORD) == []


def test_password_change_and_email_change_write_their_emails(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    new_email = unique_email("moved")
    response = client.patch(
        f"{API}/users/me",
        headers=actor.headers,
        json={"email": new_email, "password": "another secret", "current_password": actor.password},
    )
    assert response.status_code == 200
    assert response.json()["email"] == actor.email
    old_rows = {row.kind for row in rows_of(migrated, actor.email)}
    assert old_rows == {
        EmailKind.WELCOME,
        EmailKind.VERIFY_EMAIL,
        EmailKind.PASSWORD_CHANGED,
        EmailKind.EMAIL_CHANGE_REQUESTED,
    }
    assert [row.kind for row in rows_of(migrated, new_email)] == [EmailKind.CONFIRM_EMAIL_CHANGE]
    with Session(migrated) as session:
        unused = session.scalars(select(OneTimeToken.purpose).where(OneTimeToken.used_at.is_(None))).all()
    # The old address's verification link still works until the new address is confirmed.
    assert sorted(unused) == ["change_email", "verify_email"]


def test_a_rejected_change_writes_no_email(client: TestClient[Litestar], accounts: Accounts, migrated: Engine) -> None:
    actor = accounts.user()
    response = client.patch(
        f"{API}/users/me", headers=actor.headers, json={"password": "another secret", "current_password": "wrong"}
    )
    assert response.status_code == 400
    assert {row.kind for row in rows_of(migrated, actor.email)} == {EmailKind.WELCOME, EmailKind.VERIFY_EMAIL}
