from __future__ import annotations

import uuid
from datetime import UTC, datetime

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.core.cursors import FOREIGN_CURSOR, INVALID_CURSOR
from app.users.models import User
from tests.factories import API, Accounts, unique_email
from tests.pages import fetch, flatten, query_of, walk, walk_back
from tests.problems import invalid_fields

USERS = f"{API}/users"


def test_listing_users_is_for_superusers_only(client: TestClient[Litestar], accounts: Accounts) -> None:
    user = accounts.user()
    assert client.get(USERS, headers=user.headers).status_code == 403
    assert client.get(USERS).status_code == 401


def test_list_users_newest_first_paginated_and_searchable(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin = accounts.superuser()
    emails = [accounts.register(first_name=f"Person{i}")["email"] for i in range(5)]
    first = client.get(USERS, headers=admin.headers, params={"size": 2})
    assert first.status_code == 200
    body = first.json()
    assert (body["total"], body["page"], body["size"], body["pages"]) == (6, 1, 2, 3)
    assert [item["email"] for item in body["items"]] == emails[::-1][:2]
    last = client.get(USERS, headers=admin.headers, params={"size": 2, "page": 3}).json()
    assert len(last["items"]) == 2
    assert last["items"][-1]["email"] == admin.email
    beyond = client.get(USERS, headers=admin.headers, params={"size": 2, "page": 9}).json()
    assert (beyond["items"], beyond["total"]) == ([], 6)
    found = client.get(USERS, headers=admin.headers, params={"q": "PERSON3"}).json()
    assert [item["email"] for item in found["items"]] == [emails[3]]
    by_email = client.get(USERS, headers=admin.headers, params={"q": emails[1][:8]}).json()
    assert emails[1] in [item["email"] for item in by_email["items"]]


def test_page_parameters_are_validated(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin = accounts.superuser()
    for params in ({"size": 101}, {"size": 0}, {"page": 0}, {"page": "one"}):
        response = client.get(USERS, headers=admin.headers, params=params)
        assert invalid_fields(response) == [("query", next(iter(params)))], params
    assert client.get(USERS, headers=admin.headers, params={"size": 100}).status_code == 200


def test_superuser_creates_users_with_flags(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin = accounts.superuser()
    payload = {"email": unique_email(), "password": "created-by-admin", "is_superuser": True, "is_verified": True}
    response = client.post(USERS, headers=admin.headers, json=payload)
    assert response.status_code == 201, response.text
    assert (response.json()["is_superuser"], response.json()["is_verified"]) == (True, True)
    assert client.post(USERS, headers=admin.headers, json=payload).status_code == 409
    user = accounts.user()
    assert client.post(USERS, headers=user.headers, json={**payload, "email": unique_email()}).status_code == 403


def test_get_user_by_id_self_or_superuser(client: TestClient[Litestar], accounts: Accounts) -> None:
    alice, bob, admin = accounts.user(), accounts.user(), accounts.superuser()
    assert client.get(f"{USERS}/{alice.id}", headers=alice.headers).json()["email"] == alice.email
    assert client.get(f"{USERS}/{alice.id}", headers=admin.headers).status_code == 200
    assert client.get(f"{USERS}/{alice.id}", headers=bob.headers).status_code == 403
    assert client.get(f"{USERS}/{uuid.uuid4()}", headers=admin.headers).status_code == 404


def test_patch_user_flags_only_by_superuser(client: TestClient[Litestar], accounts: Accounts) -> None:
    alice, bob, admin = accounts.user(), accounts.user(), accounts.superuser()
    own = client.patch(f"{USERS}/{alice.id}", headers=alice.headers, json={"last_name": "Liddell"})
    assert own.status_code == 200
    assert own.json()["last_name"] == "Liddell"
    escalate = client.patch(f"{USERS}/{alice.id}", headers=alice.headers, json={"is_superuser": True})
    assert escalate.status_code == 403
    assert client.patch(f"{USERS}/{alice.id}", headers=bob.headers, json={"last_name": "X"}).status_code == 403
    promoted = client.patch(
        f"{USERS}/{alice.id}", headers=admin.headers, json={"is_superuser": True, "is_verified": True}
    )
    assert promoted.status_code == 200
    assert (promoted.json()["is_superuser"], promoted.json()["is_verified"]) == (True, True)
    reset = client.patch(f"{USERS}/{bob.id}", headers=admin.headers, json={"password": "set-by-the-admin"})
    assert reset.status_code == 200
    accounts.login(bob.email, "set-by-the-admin")
    deactivated = client.patch(f"{USERS}/{bob.id}", headers=admin.headers, json={"is_active": False})
    assert deactivated.json()["is_active"] is False
    assert client.get(f"{API}/users/me", headers=bob.headers).status_code == 401
    assert client.patch(f"{USERS}/{uuid.uuid4()}", headers=admin.headers, json={"last_name": "X"}).status_code == 404


def test_delete_user_is_for_superusers(client: TestClient[Litestar], accounts: Accounts) -> None:
    alice, admin = accounts.user(), accounts.superuser()
    assert client.delete(f"{USERS}/{alice.id}", headers=alice.headers).status_code == 403
    assert client.delete(f"{USERS}/{alice.id}", headers=admin.headers).status_code == 204
    assert client.get(f"{USERS}/{alice.id}", headers=admin.headers).status_code == 404
    assert client.delete(f"{USERS}/{alice.id}", headers=admin.headers).status_code == 404
    # Not one's own, as an administrator: that is DELETE /users/me.
    assert client.delete(f"{USERS}/{admin.id}", headers=admin.headers).status_code == 403
    assert client.get(f"{API}/users/me", headers=admin.headers).status_code == 200


def test_malformed_user_id_is_422(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin = accounts.superuser()
    response = client.get(f"{USERS}/not-a-uuid", headers=admin.headers)
    assert invalid_fields(response) == [("path", "user_id")]


def test_a_superuser_cannot_demote_or_deactivate_themselves(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin, other_admin = accounts.superuser(), accounts.superuser()
    own = f"{USERS}/{admin.id}"
    for change in ({"is_superuser": False}, {"is_active": False}, {"is_superuser": False, "first_name": "Ex"}):
        refused = client.patch(own, headers=admin.headers, json=change)
        assert refused.status_code == 403, change
    me = client.get(f"{API}/users/me", headers=admin.headers).json()
    assert (me["is_superuser"], me["is_active"], me["first_name"]) == (True, True, None)
    assert client.patch(own, headers=admin.headers, json={"is_superuser": True, "first_name": "Ada"}).status_code == 200
    # Another superuser can.
    demoted = client.patch(own, headers=other_admin.headers, json={"is_superuser": False})
    assert (demoted.status_code, demoted.json()["is_superuser"]) == (200, False)


def test_users_by_cursor_newest_first_ties_and_search_kept(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    admin = accounts.superuser()
    ids = [accounts.register(first_name=f"Person{i}")["id"] for i in range(6)]
    # Accounts created at the same instant are ordered by id.
    with Session(migrated) as session:
        session.execute(
            update(User).where(User.id.in_([uuid.UUID(i) for i in ids[:4]])).values(created_at=datetime.now(UTC))
        )
        session.commit()
    whole = fetch(client, USERS, admin.headers, size=100).ids
    pages = walk(client, USERS, admin.headers, size=2)
    assert flatten(pages) == whole
    assert sorted(whole) == sorted([*ids, admin.id])
    back = walk_back(client, pages[-1], admin.headers)
    assert [page.ids for page in back] == [page.ids for page in reversed(pages[:-1])]
    found = walk(client, USERS, admin.headers, size=1, q="person")
    assert sorted(flatten(found)) == sorted(ids)
    assert query_of(found[0].body["next"])["q"] == "person"
    other_search = client.get(USERS, headers=admin.headers, params={"q": "person1", "cursor": found[0].cursor})
    assert other_search.status_code == 400
    assert other_search.json()["detail"] == FOREIGN_CURSOR
    assert client.get(USERS, headers=admin.headers, params={"cursor": "abc"}).json()["detail"] == INVALID_CURSOR
