from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.auth.models import RefreshToken
from app.users.models import User
from tests.factories import API, Accounts
from tests.problems import about_blank, problem
from tests.sql import counted_statements

ME = f"{API}/users/me"


def test_me_requires_a_bearer_token(client: TestClient[Litestar]) -> None:
    response = client.get(ME)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert problem(response) == about_blank(401, "No JWT token found in request header")


def test_get_me(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user(first_name="Grace", last_name="Hopper")
    body = client.get(ME, headers=actor.headers).json()
    assert body == actor.body
    assert body["full_name"] == "Grace Hopper"


def test_get_me_is_one_query_and_never_stale(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user(first_name="Grace")
    with counted_statements() as statements:
        assert client.get(ME, headers=actor.headers).json()["profile"] is None
    assert len(statements) == 1, statements  # the account and its profile, by primary key
    assert client.put(f"{ME}/profile", headers=actor.headers, json={"bio": "Compilers"}).status_code == 200
    assert client.patch(ME, headers=actor.headers, json={"first_name": "Ada"}).status_code == 200
    body = client.get(ME, headers=actor.headers).json()
    assert (body["full_name"], body["profile"]) == ("Ada", {"bio": "Compilers", "avatar_url": None})


def test_patch_me_changes_names_and_ignores_flags(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user(first_name="Grace")
    response = client.patch(
        ME, headers=actor.headers, json={"first_name": "Ada", "last_name": None, "is_superuser": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first_name"], body["last_name"], body["is_superuser"]) == ("Ada", None, False)
    assert body["updated_at"] >= actor.body["updated_at"]


def test_new_password_needs_the_current_one(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    missing = client.patch(ME, headers=actor.headers, json={"password": "brand-new-pass"})
    assert missing.status_code == 400
    assert "current_password" in missing.json()["detail"]
    wrong = client.patch(ME, headers=actor.headers, json={"password": "brand-new-pass", "current_password": "nope"})
    assert wrong.status_code == 400
    too_short = client.patch(ME, headers=actor.headers, json={"password": "short", "current_password": actor.password})
    assert too_short.status_code == 422
    accounts.login(actor.email, actor.password)


def test_password_change_revokes_refresh_tokens(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    response = client.patch(
        ME, headers=actor.headers, json={"password": "brand-new-pass", "current_password": actor.password}
    )
    assert response.status_code == 200
    assert client.post(f"{API}/auth/refresh", json={"refresh_token": actor.refresh_token}).status_code == 401
    old = client.post(f"{API}/auth/login", data={"username": actor.email, "password": actor.password})
    assert old.status_code == 401
    accounts.login(actor.email, "brand-new-pass")


def test_delete_me_removes_the_account_and_its_tokens(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    survivor = accounts.user()
    assert client.delete(ME, headers=actor.headers).status_code == 204
    with Session(migrated) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
        assert session.scalar(select(func.count()).select_from(RefreshToken)) == 1
    assert client.post(f"{API}/auth/refresh", json={"refresh_token": actor.refresh_token}).status_code == 401
    assert client.get(ME, headers=survivor.headers).status_code == 200
