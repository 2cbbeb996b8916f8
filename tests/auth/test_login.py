from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.core.security import PasswordHashing, SecretSealing
from app.core.settings import Settings
from app.users.models import User
from tests.factories import API, DEFAULT_PASSWORD, Accounts
from tests.problems import about_blank, invalid_fields, problem

LOGIN = f"{API}/auth/login"
REFUSAL = about_blank(401, "Incorrect email or password")


def test_login_with_the_oauth2_form_returns_a_token_pair(client: TestClient[Litestar], accounts: Accounts) -> None:
    body = accounts.register()
    response = client.post(LOGIN, data={"username": body["email"].upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 30 * 60
    assert len(tokens["refresh_token"]) >= 43  # 256 bits, base64url
    me = client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["id"] == body["id"]
    assert "set-cookie" not in response.headers


def test_login_also_accepts_json(client: TestClient[Litestar], accounts: Accounts) -> None:
    body = accounts.register()
    response = client.post(LOGIN, json={"username": body["email"], "password": DEFAULT_PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "inactive user"])
def test_every_login_refusal_is_the_same_401(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine, case: str
) -> None:
    body = accounts.register()
    email, password = body["email"], DEFAULT_PASSWORD
    if case == "unknown email":
        email = "nobody@example.com"
    elif case == "wrong password":
        password = "not the password"
    else:
        with Session(migrated) as session:
            session.execute(update(User).where(User.email == email).values(is_active=False))
            session.commit()
    response = client.post(LOGIN, data={"username": email, "password": password})
    assert response.status_code == 401
    assert problem(response) == REFUSAL
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_email_still_spends_an_argon2_verification(settings: Settings, migrated: Engine) -> None:
    from app.auth.access_tokens import AccessTokenIssuer
    from app.auth.login import LoginService
    from app.core.errors import AuthenticationFailedError

    class CountingHashing(PasswordHashing):
        verifications = 0

        def verify(self, hashed: str, password: str) -> bool:
            CountingHashing.verifications += 1
            return super().verify(hashed, password)

    # Closed at the end: a session left in its read transaction would block the next test's TRUNCATE.
    with Session(migrated) as session:
        hashing, sealing = CountingHashing(settings), SecretSealing(settings)
        login = LoginService(
            session, hashing, AccessTokenIssuer(settings), timedelta(days=1), settings, sealing=sealing
        )
        with pytest.raises(AuthenticationFailedError):
            login.login("ghost@example.com", "whatever-pass", challenge_allowed=True)
    assert CountingHashing.verifications == 1


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"username=a%40example.com", "application/x-www-form-urlencoded"),
        (b'{"username": "a@example.com"}', "application/json"),
        (b"{not json", "application/json"),
    ],
)
def test_incomplete_login_bodies_are_422(client: TestClient[Litestar], content: bytes, content_type: str) -> None:
    response = client.post(LOGIN, content=content, headers={"content-type": content_type})
    assert invalid_fields(response) == [("body", "" if content == b"{not json" else "password")]


def test_login_rehashes_a_hash_made_with_older_parameters(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    body = accounts.register()
    weaker = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(DEFAULT_PASSWORD)
    with Session(migrated) as session:
        session.execute(update(User).where(User.email == body["email"]).values(hashed_password=weaker))
        session.commit()
    accounts.login(body["email"])
    with Session(migrated) as session:
        stored = session.scalar(select(User.hashed_password).where(User.email == body["email"]))
    assert stored is not None
    assert stored != weaker
    assert "m=1024,t=1,p=1" in stored
    accounts.login(body["email"])
