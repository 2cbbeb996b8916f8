"""The security audit log: a row for every security event, with who, from where and when, and no secret."""

from __future__ import annotations

import json
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.audit.models import EventKind, SecurityEvent
from app.emails.models import EmailKind, EmailOutbox
from tests.factories import API, Accounts, Actor

EVENTS = f"{API}/auth/events"
LOGIN = f"{API}/auth/login"
REFRESH = f"{API}/auth/refresh"


def _events(client: TestClient[Litestar], viewer: Actor, path: str = EVENTS) -> list[dict[str, Any]]:
    response = client.get(path, headers=viewer.headers, params={"size": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _kinds(client: TestClient[Litestar], viewer: Actor, path: str = EVENTS) -> list[str]:
    return [event["kind"] for event in _events(client, viewer, path)]


def _sign_in(client: TestClient[Litestar], actor: Actor, password: str | None = None, **headers: str) -> Any:
    form = {"username": actor.email, "password": password or actor.password}
    return client.post(LOGIN, data=form, headers=headers)


def test_sign_ins_are_recorded_with_where_they_came_from(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    refused = _sign_in(client, actor, "not the password", **{"User-Agent": "Guesser/1.0"})
    assert refused.status_code == 401
    failed, succeeded = _events(client, actor)
    assert (failed["kind"], succeeded["kind"]) == ("sign_in_failed", "sign_in_succeeded")
    assert failed["subject_id"] == actor.id
    assert failed["actor_id"] is None
    assert failed["detail"] == {"reason": "wrong_password", "locked": False}
    assert (failed["user_agent"], failed["ip_address"]) == ("Guesser/1.0", "testclient")
    assert failed["request_id"] == refused.headers["x-request-id"]
    assert (succeeded["actor_id"], succeeded["session_id"]) == (actor.id, actor.session_id)
    assert failed["occurred_at"] > succeeded["occurred_at"]


def test_a_sign_in_with_an_unknown_address_is_recorded_about_nobody(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    ghost = Actor("", "ghost@example.com", "whatever it is", "", "")
    assert _sign_in(client, ghost).status_code == 401
    with Session(migrated) as session:
        anonymous = session.scalars(select(SecurityEvent).where(SecurityEvent.subject_id.is_(None))).all()
    assert [(event.kind, event.detail) for event in anonymous] == [
        (EventKind.SIGN_IN_FAILED, {"reason": "unknown_or_inactive_account", "locked": False})
    ]


def test_session_events(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    phone, tablet = (_sign_in(client, actor).json() for _ in range(2))
    assert client.post(f"{API}/auth/logout", json={"refresh_token": phone["refresh_token"]}).status_code == 204
    rotated = client.post(REFRESH, json={"refresh_token": tablet["refresh_token"]})
    assert rotated.status_code == 200
    assert client.post(REFRESH, json={"refresh_token": tablet["refresh_token"]}).status_code == 401
    laptop = _sign_in(client, actor).json()
    assert client.delete(f"{API}/auth/sessions", headers=actor.headers).status_code == 204
    events = _events(client, actor)
    assert [event["kind"] for event in events] == [
        "session_ended",
        "sign_in_succeeded",
        "refresh_token_reused",
        "logged_out",
        "sign_in_succeeded",
        "sign_in_succeeded",
        "sign_in_succeeded",
    ]
    ended, laptop_sign_in, reused, logged_out = events[:4]
    assert ended["session_id"] == laptop_sign_in["session_id"]
    assert Actor("", "", "", laptop["access_token"], "").session_id == ended["session_id"]
    assert ended["actor_id"] == actor.id
    assert reused["actor_id"] is None
    assert Actor("", "", "", tablet["access_token"], "").session_id == reused["session_id"]
    assert Actor("", "", "", phone["access_token"], "").session_id == logged_out["session_id"]
    # Logging out of a session that has ended records nothing more.
    assert client.post(f"{API}/auth/logout", json={"refresh_token": phone["refresh_token"]}).status_code == 204
    assert len(_events(client, actor)) == len(events)


def test_password_changes_and_resets_are_recorded(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    change = {"password": "a brand new passphrase", "current_password": actor.password}
    assert client.patch(f"{API}/users/me", json=change, headers=actor.headers).status_code == 200
    client.post(f"{API}/auth/forgot-password", json={"email": actor.email})
    with Session(migrated) as session:
        mailed = session.scalars(select(EmailOutbox).where(EmailOutbox.kind == EmailKind.RESET_PASSWORD)).one()
    reset = {"token": mailed.payload["token"], "password": "yet another passphrase"}
    assert client.post(f"{API}/auth/reset-password", json=reset).status_code == 204
    signed_in = accounts.login(actor.email, "yet another passphrase")
    viewer = Actor(actor.id, actor.email, "", signed_in["access_token"], signed_in["refresh_token"])
    assert _kinds(client, viewer)[:3] == ["sign_in_succeeded", "password_reset", "password_changed"]


def test_a_refused_change_records_nothing(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor, other = accounts.user(), accounts.user()
    before = _kinds(client, actor)
    move = {"email": other.email, "current_password": actor.password}
    taken = client.patch(f"{API}/users/me", json=move, headers=actor.headers)
    assert taken.status_code == 409
    wrong = {"password": "a brand new passphrase", "current_password": "not the current one"}
    assert client.patch(f"{API}/users/me", json=wrong, headers=actor.headers).status_code == 400
    assert _kinds(client, actor) == before


def test_superusers_actions_on_other_accounts_are_recorded_and_outlive_the_account(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    admin = accounts.superuser()
    created = client.post(
        f"{API}/users", json={"email": "made@example.com", "password": "long enough pass"}, headers=admin.headers
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    path = f"{API}/users/{user_id}"
    assert client.patch(path, json={"is_active": False, "first_name": "Made"}, headers=admin.headers).status_code == 200
    assert client.patch(path, json={"email": "renamed@example.com"}, headers=admin.headers).status_code == 200
    assert client.delete(path, headers=admin.headers).status_code == 204
    events = _events(client, admin, f"{path}/events")
    assert [event["kind"] for event in events] == [
        "account_deleted",
        "email_change_requested",
        "account_changed",
        "account_created",
    ]
    assert {event["actor_id"] for event in events} == {admin.id}
    assert {event["subject_id"] for event in events} == {user_id}
    deleted, renamed, deactivated, made = events
    assert deleted["detail"] == {}
    assert deactivated["detail"] == {"fields": ["first_name", "is_active"]}
    assert renamed["detail"] == {"email": "renamed@example.com"}
    assert made["detail"] == {"is_active": True, "is_superuser": False, "is_verified": False}
    # The superuser's own list holds only what was done to its own account: made from the command line, signed in.
    assert _kinds(client, admin) == ["sign_in_succeeded", "account_created"]
    assert _events(client, admin)[1]["actor_id"] is None


def test_no_event_holds_a_secret(client: TestClient[Litestar], accounts: Accounts, migrated: Engine) -> None:
    actor = accounts.user()
    assert _sign_in(client, actor, "a wrong guess here").status_code == 401
    pair = client.post(REFRESH, json={"refresh_token": actor.refresh_token}).json()
    assert client.post(REFRESH, json={"refresh_token": actor.refresh_token}).status_code == 401
    with Session(migrated) as session:
        rows = session.scalars(select(SecurityEvent)).all()
        assert session.scalar(select(func.count()).select_from(SecurityEvent)) == len(rows) > 0
    stored = json.dumps([[str(value) for value in vars(row).values()] for row in rows])
    secrets = [actor.password, "a wrong guess here", actor.refresh_token, actor.access_token, pair["refresh_token"]]
    assert not [secret for secret in secrets if secret in stored]
