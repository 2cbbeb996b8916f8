from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.users.models import Profile
from tests.factories import API, Accounts
from tests.problems import invalid_fields

PROFILE = f"{API}/users/me/profile"


def test_profile_is_404_until_created_then_replaced_whole(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    assert client.get(PROFILE, headers=actor.headers).status_code == 404
    assert client.get(f"{API}/users/me", headers=actor.headers).json()["profile"] is None

    created = client.put(
        PROFILE, headers=actor.headers, json={"bio": "Poet.", "avatar_url": "https://img.example/a.png"}
    )
    assert created.status_code == 200, created.text
    assert created.json() == {"bio": "Poet.", "avatar_url": "https://img.example/a.png"}
    assert client.get(PROFILE, headers=actor.headers).json() == created.json()
    assert client.get(f"{API}/users/me", headers=actor.headers).json()["profile"] == created.json()

    replaced = client.put(PROFILE, headers=actor.headers, json={"bio": "Novelist."})
    assert replaced.json() == {"bio": "Novelist.", "avatar_url": None}


def test_replacing_keeps_the_row_and_moves_updated_at(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    actor = accounts.user()

    def stored() -> Profile:
        with Session(migrated) as session:
            return session.scalars(select(Profile).where(Profile.user_id == uuid.UUID(actor.id))).one()

    client.put(PROFILE, headers=actor.headers, json={"bio": "First."})
    first = stored()
    client.put(PROFILE, headers=actor.headers, json={"bio": "Second."})
    second = stored()
    assert (second.id, second.created_at, second.bio) == (first.id, first.created_at, "Second.")
    assert second.updated_at > first.updated_at


def test_profile_requires_a_token(client: TestClient[Litestar]) -> None:
    assert client.get(PROFILE).status_code == 401
    assert client.put(PROFILE, json={"bio": "x"}).status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"bio": "x" * 5001}, "bio"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"avatar_url": "ftp://files.example/a.png"}, "avatar_url"),
        ({"avatar_url": "https://example.com/" + "a" * 490}, "avatar_url"),
        ({"avatar_url": "https://example.com/a b.png"}, "avatar_url"),
        ({"avatar_url": "https:// example.com/a.png"}, "avatar_url"),
    ],
)
def test_invalid_profiles_are_422(
    client: TestClient[Litestar], accounts: Accounts, payload: dict[str, str], field: str
) -> None:
    actor = accounts.user()
    response = client.put(PROFILE, headers=actor.headers, json=payload)
    assert invalid_fields(response) == [("body", field)]
    assert client.get(PROFILE, headers=actor.headers).status_code == 404


def test_the_url_pattern_means_what_json_schema_readers_take_it_to(
    client: TestClient[Litestar], accounts: Accounts
) -> None:
    # A character Python's \s matches but ECMA-262's does not (U+0085): the document allows it, so the API does too.
    actor = accounts.user()
    url = "https://img.example/a\x85.png"
    response = client.put(PROFILE, headers=actor.headers, json={"avatar_url": url})
    assert response.status_code == 200, response.text
    assert response.json()["avatar_url"] == url
