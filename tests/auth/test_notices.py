"""Sign-in notices: an account hears of a sign-in from a device and address it never used, and of a session a
superuser ended."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from app.emails.models import EmailKind
from tests.emails.outbox import payloads_of
from tests.factories import API, Accounts, Actor

LOGIN = f"{API}/auth/login"


def _sign_in(client: TestClient[Litestar], actor: Actor, password: str | None = None, **headers: str) -> int:
    form = {"username": actor.email, "password": password or actor.password}
    return client.post(LOGIN, data=form, headers=headers).status_code


def test_a_sign_in_from_an_unfamiliar_device_is_mailed_to_the_account(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user(first_name="Ada")  # its first sign-in: nothing to compare it with
    assert _sign_in(client, actor) == 200  # the same client again
    assert _sign_in(client, actor, "a wrong password", **{"User-Agent": "Stranger/1.0"}) == 401
    assert payloads_of(migrated, actor.email, EmailKind.NEW_SIGN_IN) == []
    assert _sign_in(client, actor, **{"User-Agent": "InkwellPhone/2.1"}) == 200
    assert _sign_in(client, actor, **{"User-Agent": "InkwellPhone/2.1"}) == 200  # familiar now
    assert payloads_of(migrated, actor.email, EmailKind.NEW_SIGN_IN) == [
        {"name": "Ada", "ip_address": "testclient", "user_agent": "InkwellPhone/2.1"}
    ]


def test_a_session_ended_by_a_superuser_is_mailed_to_its_owner(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    admin, actor = accounts.superuser(), accounts.user()
    assert client.delete(f"{API}/auth/sessions/{actor.session_id}", headers=actor.headers).status_code == 204
    assert payloads_of(migrated, actor.email, EmailKind.SESSION_ENDED) == []
    again = accounts.login(actor.email, actor.password)
    signed_in = Actor(actor.id, actor.email, actor.password, again["access_token"], again["refresh_token"])
    path = f"{API}/users/{actor.id}/sessions/{signed_in.session_id}"
    assert client.delete(path, headers=admin.headers).status_code == 204
    assert payloads_of(migrated, actor.email, EmailKind.SESSION_ENDED) == [
        {"name": actor.email, "ip_address": "testclient", "user_agent": "testclient"}
    ]
