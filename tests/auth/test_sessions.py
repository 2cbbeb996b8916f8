"""Sessions you can see and end: each login is one, and ending it stops its access tokens at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from app.application import create_app
from app.core.settings import Settings
from tests.conftest import make_settings
from tests.factories import API, Accounts, Actor
from tests.pages import fetch, query_of

ME = f"{API}/users/me"
SESSIONS = f"{API}/auth/sessions"
REFRESH = f"{API}/auth/refresh"


def _sign_in_again(client: TestClient[Litestar], actor: Actor, **headers: str) -> Actor:
    """Another session of ``actor``'s account: a second login (from another client, by ``headers``)."""
    response = client.post(
        f"{API}/auth/login", data={"username": actor.email, "password": actor.password}, headers=headers
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Actor(actor.id, actor.email, actor.password, tokens["access_token"], tokens["refresh_token"])


def _sessions(client: TestClient[Litestar], actor: Actor, path: str = SESSIONS, **params: Any) -> dict[str, Any]:
    response = client.get(path, headers=actor.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _signed_in(client: TestClient[Litestar], actor: Actor) -> bool:
    status = client.get(ME, headers=actor.headers).status_code
    assert status in {200, 401}
    return status == 200


def test_each_login_is_a_session_listed_with_its_client(client: TestClient[Litestar], accounts: Accounts) -> None:
    laptop = accounts.user()
    phone = _sign_in_again(client, laptop, **{"User-Agent": "InkwellPhone/2.1"})
    page = _sessions(client, laptop)
    assert page["total"] == 2
    newest, oldest = page["items"]
    assert newest["id"] == phone.session_id
    assert newest["user_agent"] == "InkwellPhone/2.1"
    assert (oldest["id"], oldest["current"], newest["current"]) == (laptop.session_id, True, False)
    assert {item["ip_address"] for item in page["items"]} == {"testclient"}
    for item in page["items"]:
        assert datetime.fromisoformat(item["created_at"]) <= datetime.fromisoformat(item["last_used_at"])
        assert datetime.fromisoformat(item["last_used_at"]) < datetime.fromisoformat(item["expires_at"])
    assert _sessions(client, phone)["items"][0]["current"] is True
    one_per_page = _sessions(client, laptop, size=1, page=2)
    assert (one_per_page["total"], one_per_page["pages"], one_per_page["items"][0]["id"]) == (2, 2, laptop.session_id)
    # Paged by number, linked by number, in the body and the Link header.
    first = fetch(client, SESSIONS, laptop.headers, size=1)
    assert (first.ids, query_of(first.body["next"]), first.body["prev"]) == (
        [phone.session_id],
        {"size": "1", "page": "2"},
        None,
    )
    second = fetch(client, first.body["next"], laptop.headers)
    assert (second.ids, second.body["next"], query_of(second.body["prev"])) == (
        [laptop.session_id],
        None,
        {"size": "1", "page": "1"},
    )


def test_ending_a_session_stops_its_access_and_refresh_tokens_at_once(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    laptop = accounts.user()
    stolen = _sign_in_again(client, laptop)
    assert client.delete(f"{SESSIONS}/{stolen.session_id}", headers=laptop.headers).status_code == 204
    assert not _signed_in(client, stolen)
    assert client.post(REFRESH, json={"refresh_token": stolen.refresh_token}).status_code == 401
    assert _signed_in(client, laptop)
    assert [item["id"] for item in _sessions(client, laptop)["items"]] == [laptop.session_id]
    # Ended already: there is no such live session any more.
    assert client.delete(f"{SESSIONS}/{stolen.session_id}", headers=laptop.headers).status_code == 404


def test_a_caller_can_end_its_own_current_session(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    assert client.delete(f"{SESSIONS}/{actor.session_id}", headers=actor.headers).status_code == 204
    assert not _signed_in(client, actor)


def test_ending_every_other_session_keeps_the_current_one(client: TestClient[Litestar], accounts: Accounts) -> None:
    kept = accounts.user()
    others = [_sign_in_again(client, kept) for _ in range(3)]
    assert client.delete(SESSIONS, headers=kept.headers).status_code == 204
    assert [_signed_in(client, other) for other in others] == [False, False, False]
    assert _signed_in(client, kept)
    assert _sessions(client, kept)["total"] == 1


def test_another_accounts_session_cannot_be_ended_or_seen(client: TestClient[Litestar], accounts: Accounts) -> None:
    victim, stranger = accounts.user(), accounts.user()
    assert client.delete(f"{SESSIONS}/{victim.session_id}", headers=stranger.headers).status_code == 404
    assert client.delete(SESSIONS, headers=stranger.headers).status_code == 204
    assert _signed_in(client, victim)
    assert victim.session_id not in {item["id"] for item in _sessions(client, stranger)["items"]}


def test_logout_ends_the_session_at_once(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    assert client.post(f"{API}/auth/logout", json={"refresh_token": actor.refresh_token}).status_code == 204
    assert not _signed_in(client, actor)


def test_refresh_stays_in_the_session_and_moves_its_last_use(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    before = _sessions(client, actor)["items"][0]
    pair = client.post(REFRESH, json={"refresh_token": actor.refresh_token}).json()
    refreshed = Actor(actor.id, actor.email, actor.password, pair["access_token"], pair["refresh_token"])
    assert refreshed.session_id == actor.session_id
    after = _sessions(client, refreshed)["items"]
    assert len(after) == 1
    assert after[0]["last_used_at"] > before["last_used_at"]
    assert after[0]["expires_at"] > before["expires_at"]
    assert after[0]["created_at"] == before["created_at"]
    # The access token issued before the rotation belongs to the same, still live, session.
    assert _signed_in(client, actor)


def test_replaying_a_spent_refresh_token_ends_its_session(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    bystander = _sign_in_again(client, actor)
    pair = client.post(REFRESH, json={"refresh_token": actor.refresh_token}).json()
    rotated = Actor(actor.id, actor.email, actor.password, pair["access_token"], pair["refresh_token"])
    assert client.post(REFRESH, json={"refresh_token": actor.refresh_token}).status_code == 401
    assert not _signed_in(client, rotated)
    assert _signed_in(client, bystander)


def test_a_password_change_ends_every_session_at_once(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    other = _sign_in_again(client, actor)
    response = client.patch(
        ME, json={"password": "a brand new passphrase", "current_password": actor.password}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    assert (_signed_in(client, actor), _signed_in(client, other)) == (False, False)


def test_deactivation_ends_every_session_for_good(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin, actor = accounts.superuser(), accounts.user()
    user_path = f"{API}/users/{actor.id}"
    assert client.patch(user_path, json={"is_active": False}, headers=admin.headers).status_code == 200
    assert client.patch(user_path, json={"is_active": True}, headers=admin.headers).status_code == 200
    # Reactivated, the account signs in again; the sessions it had do not come back.
    assert not _signed_in(client, actor)
    assert client.post(REFRESH, json={"refresh_token": actor.refresh_token}).status_code == 401
    assert _signed_in(client, _sign_in_again(client, actor))


def test_a_superuser_sees_and_ends_any_accounts_sessions(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin, actor = accounts.superuser(), accounts.user()
    other = _sign_in_again(client, actor)
    path = f"{API}/users/{actor.id}/sessions"
    page = _sessions(client, admin, path)
    assert {item["id"] for item in page["items"]} == {actor.session_id, other.session_id}
    assert not any(item["current"] for item in page["items"])
    assert client.delete(f"{path}/{other.session_id}", headers=admin.headers).status_code == 204
    assert (_signed_in(client, actor), _signed_in(client, other)) == (True, False)
    # A session of another account, under this one's path, is not this account's.
    assert client.delete(f"{path}/{admin.session_id}", headers=admin.headers).status_code == 404
    assert _signed_in(client, admin)
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"{API}/users/{unknown}/sessions", headers=admin.headers).status_code == 404
    assert client.get(path, headers=actor.headers).status_code == 403


@pytest.fixture
def proxied_client(
    settings: Settings, migrated: Engine, client: TestClient[Litestar]
) -> Iterator[TestClient[Litestar]]:
    """The app behind one trusted proxy (``TRUSTED_PROXY_HOPS=1``), on the same database (``client`` empties it)."""
    app = create_app(make_settings(settings.database_url, TRUSTED_PROXY_HOPS="1"))
    with TestClient(app=app) as proxied:
        yield proxied


def test_behind_a_trusted_proxy_a_session_records_the_forwarded_address(
    proxied_client: TestClient[Litestar], accounts: Accounts
) -> None:
    actor = accounts.user()
    forwarded = {"X-Forwarded-For": "203.0.113.250, 203.0.113.9"}
    signed_in = _sign_in_again(proxied_client, actor, **forwarded)
    addresses = {item["id"]: item["ip_address"] for item in _sessions(proxied_client, signed_in)["items"]}
    assert addresses == {actor.session_id: "testclient", signed_in.session_id: "203.0.113.9"}
