"""Email change by confirmation link over HTTP, with the links read from the outbox rows (no worker needed)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from app.auth.models import TokenPurpose
from app.emails.models import EmailKind
from tests.emails.outbox import payloads_of, rows_of, tokens_of
from tests.factories import API, Accounts, Actor, expire_one_time_tokens, unique_email

ME = f"{API}/users/me"
CONFIRM = f"{API}/auth/confirm-email-change"
LOGIN = f"{API}/auth/login"


def _request_change(client: TestClient[Litestar], actor: Actor, new_email: str) -> Any:
    response = client.patch(ME, headers=actor.headers, json={"email": new_email, "current_password": actor.password})
    assert response.status_code == 200, response.text
    return response.json()


def _link(engine: Engine, new_email: str) -> str:
    (token,) = tokens_of(engine, new_email, EmailKind.CONFIRM_EMAIL_CHANGE)
    return token


def _confirm(client: TestClient[Litestar], actor: Actor, token: str) -> Any:
    return client.post(CONFIRM, headers=actor.headers, json={"token": token})


def _signs_in(client: TestClient[Litestar], email: str, password: str) -> bool:
    return client.post(LOGIN, data={"username": email, "password": password}).status_code == 200


def _signed_in_again(accounts: Accounts, actor: Actor) -> Actor:
    pair = accounts.login(actor.email, actor.password)
    return Actor(actor.id, actor.email, actor.password, pair["access_token"], pair["refresh_token"])


def test_a_new_email_waits_for_the_link_mailed_to_it(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user(first_name="Ada")
    new_email = unique_email("moved")
    no_password = client.patch(ME, headers=actor.headers, json={"email": new_email})
    assert no_password.status_code == 400
    assert "current_password" in no_password.json()["detail"]
    wrong = client.patch(ME, headers=actor.headers, json={"email": new_email, "current_password": "a wrong guess"})
    assert wrong.status_code == 400

    pending = _request_change(client, actor, f" {new_email.upper()}")
    assert (pending["email"], pending["is_verified"]) == (actor.email, False)
    assert client.get(ME, headers=actor.headers).json()["email"] == actor.email
    assert _signs_in(client, actor.email, actor.password)
    assert not _signs_in(client, new_email, actor.password)
    notice = payloads_of(migrated, actor.email, EmailKind.EMAIL_CHANGE_REQUESTED)
    assert notice == [{"name": "Ada", "new_email": "m***@example.com"}]

    confirmed = _confirm(client, actor, _link(migrated, new_email))
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["email"], confirmed.json()["is_verified"]) == (new_email, True)
    assert client.get(ME, headers=actor.headers).json()["email"] == new_email
    assert _signs_in(client, new_email, actor.password)
    assert not _signs_in(client, actor.email, actor.password)
    assert _confirm(client, actor, _link(migrated, new_email)).status_code == 400


def test_confirming_ends_every_other_session_and_is_recorded(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    other_device = _signed_in_again(accounts, actor)
    new_email = unique_email("moved")
    _request_change(client, actor, new_email)
    assert _confirm(client, actor, _link(migrated, new_email)).status_code == 200

    assert client.get(ME, headers=actor.headers).status_code == 200
    assert client.get(ME, headers=other_device.headers).status_code == 401
    assert client.post(f"{API}/auth/refresh", json={"refresh_token": other_device.refresh_token}).status_code == 401
    events = client.get(f"{API}/auth/events", headers=actor.headers).json()["items"]
    confirmed, ended, requested = events[:3]
    assert confirmed["kind"] == "email_change_confirmed"
    assert confirmed["detail"] == {"previous_email": actor.email, "email": new_email}
    assert confirmed["session_id"] == actor.session_id
    assert (ended["kind"], ended["session_id"]) == ("session_ended", other_device.session_id)
    assert (requested["kind"], requested["detail"]) == ("email_change_requested", {"email": new_email})


def test_a_taken_address_is_409_at_request_and_again_at_confirm(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    taken = accounts.user()
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in taken.email.split("@")[0])
    move = {"email": f"{fullwidth}@EXAMPLE.com", "current_password": actor.password}
    assert client.patch(ME, headers=actor.headers, json=move).status_code == 409
    assert tokens_of(migrated, taken.email, EmailKind.CONFIRM_EMAIL_CHANGE) == []
    assert EmailKind.EMAIL_CHANGE_REQUESTED not in {row.kind for row in rows_of(migrated, actor.email)}

    # Requested while free, taken by a registration before the link is used.
    contested = unique_email("contested")
    _request_change(client, actor, contested)
    rival = accounts.user(contested)
    link = _link(migrated, contested)
    refused = _confirm(client, actor, link)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "A user with this email already exists"
    assert client.get(ME, headers=actor.headers).json()["email"] == actor.email
    # Refused, the link was not spent: it works once the address is free again.
    assert client.delete(ME, headers=rival.headers).status_code == 204
    assert _confirm(client, actor, link).json()["email"] == contested


def test_a_link_works_only_for_its_own_account_and_only_the_latest_one(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor, stranger = accounts.user(), accounts.user()
    first, second = unique_email("first"), unique_email("second")
    _request_change(client, actor, first)
    _request_change(client, actor, second)
    assert client.post(CONFIRM, json={"token": _link(migrated, second)}).status_code == 401
    assert _confirm(client, stranger, _link(migrated, second)).status_code == 400
    assert _confirm(client, actor, _link(migrated, first)).status_code == 400  # superseded by the second request
    assert _confirm(client, actor, _link(migrated, second)).json()["email"] == second
    assert client.get(ME, headers=stranger.headers).json()["email"] == stranger.email


def test_confirming_voids_the_links_mailed_to_the_former_address(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    assert client.post(f"{API}/auth/forgot-password", json={"email": actor.email}).status_code == 202
    new_email = unique_email("moved")
    _request_change(client, actor, new_email)
    assert _confirm(client, actor, _link(migrated, new_email)).status_code == 200
    (verification,) = tokens_of(migrated, actor.email, EmailKind.VERIFY_EMAIL)
    (reset,) = tokens_of(migrated, actor.email, EmailKind.RESET_PASSWORD)
    assert client.post(f"{API}/auth/verify-email", json={"token": verification}).status_code == 400
    reset_body = {"token": reset, "password": "taken over by the old inbox"}
    assert client.post(f"{API}/auth/reset-password", json=reset_body).status_code == 400


def test_an_expired_link_changes_nothing(client: TestClient[Litestar], accounts: Accounts, migrated: Engine) -> None:
    actor = accounts.user()
    new_email = unique_email("late")
    _request_change(client, actor, new_email)
    expire_one_time_tokens(migrated, TokenPurpose.CHANGE_EMAIL)
    assert _confirm(client, actor, _link(migrated, new_email)).status_code == 400
    assert client.get(ME, headers=actor.headers).json()["email"] == actor.email


def test_the_same_address_in_any_spelling_is_no_change(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()
    before = len(rows_of(migrated, actor.email))
    # No password needed either: nothing changes.
    same = client.patch(ME, headers=actor.headers, json={"email": f"  {actor.email.upper()}", "first_name": "Same"})
    assert same.status_code == 200
    assert (same.json()["email"], same.json()["first_name"]) == (actor.email, "Same")
    assert len(rows_of(migrated, actor.email)) == before


def test_a_superusers_change_waits_for_the_owner(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    admin, owner = accounts.superuser(), accounts.user()
    new_email = unique_email("assigned")
    path = f"{API}/users/{owner.id}"
    changed = client.patch(path, headers=admin.headers, json={"email": new_email})
    assert changed.status_code == 200
    assert changed.json()["email"] == owner.email
    link = _link(migrated, new_email)
    assert _confirm(client, admin, link).status_code == 400
    assert _confirm(client, owner, link).json()["email"] == new_email
