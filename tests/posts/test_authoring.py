from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.posts.models import Post
from app.users.models import Profile
from tests.factories import API, Accounts, Posts
from tests.problems import about_blank, invalid_fields, problem

POSTS = f"{API}/posts"


def test_create_returns_201_with_location_and_author(client: TestClient[Litestar], accounts: Accounts) -> None:
    author = accounts.user(first_name="Mary", last_name="Shelley")
    response = client.post(
        POSTS, headers=author.headers, json={"title": "Frankenstein", "content": "It was on a dreary night"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{POSTS}/{body['id']}"
    assert body["author"] == {"id": author.id, "full_name": "Mary Shelley"}
    assert (body["title"], body["content"], body["is_published"], body["published_at"]) == (
        "Frankenstein",
        "It was on a dreary night",
        False,
        None,
    )
    assert client.get(response.headers["location"], headers=author.headers).json() == body


def test_create_requires_a_token(client: TestClient[Litestar]) -> None:
    response = client.post(POSTS, json={"title": "t", "content": "c"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_create_published_stamps_published_at(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    body = posts.create(accounts.user(), published=True)
    assert body["is_published"] is True
    assert body["published_at"] is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "", "content": "c"}, "title"),
        ({"title": "x" * 256, "content": "c"}, "title"),
        ({"title": "t", "content": ""}, "content"),
        ({"title": "t", "content": "x" * 100_001}, "content"),
        ({"content": "c"}, "title"),
        ({"title": "t", "content": "c", "is_published": "yes"}, "is_published"),
    ],
)
def test_invalid_posts_are_422(
    client: TestClient[Litestar], accounts: Accounts, payload: dict[str, object], field: str
) -> None:
    response = client.post(POSTS, headers=accounts.user().headers, json=payload)
    assert invalid_fields(response) == [("body", field)]


def test_drafts_are_hidden_from_everyone_but_author_and_superuser(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author, stranger, admin = accounts.user(), accounts.user(), accounts.superuser()
    draft = posts.create(author, published=False)
    url = f"{POSTS}/{draft['id']}"
    assert client.get(url, headers=author.headers).status_code == 200
    assert client.get(url, headers=admin.headers).status_code == 200
    for headers in (stranger.headers, {}):
        response = client.get(url, headers=headers)
        assert problem(response) == about_blank(404, "The requested resource was not found")
        assert client.patch(url, headers=stranger.headers, json={"title": "mine"}).status_code == 404
        assert client.delete(url, headers=stranger.headers).status_code == 404
    assert client.get(url, headers=author.headers).json()["title"] == draft["title"]


def test_published_posts_are_public_but_only_the_author_edits(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author, stranger = accounts.user(), accounts.user()
    published = posts.create(author, published=True)
    url = f"{POSTS}/{published['id']}"
    assert client.get(url).status_code == 200
    assert client.get(url, headers=stranger.headers).json()["content"] == published["content"]
    assert client.patch(url, headers=stranger.headers, json={"title": "mine"}).status_code == 403
    assert client.delete(url, headers=stranger.headers).status_code == 403
    assert client.patch(url, json={"title": "mine"}).status_code == 401
    assert client.get(url).json()["title"] == published["title"]


def test_a_bad_token_on_a_public_post_is_401(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    published = posts.create(accounts.user())
    response = client.get(f"{POSTS}/{published['id']}", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401


def test_author_updates_and_publishing_sets_published_at_once(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author = accounts.user()
    draft = posts.create(author, published=False)
    url = f"{POSTS}/{draft['id']}"
    renamed = client.patch(url, headers=author.headers, json={"title": "Better title"})
    assert renamed.status_code == 200
    assert (renamed.json()["title"], renamed.json()["content"], renamed.json()["published_at"]) == (
        "Better title",
        draft["content"],
        None,
    )
    published = client.patch(url, headers=author.headers, json={"is_published": True}).json()
    assert published["published_at"] is not None
    unpublished = client.patch(url, headers=author.headers, json={"is_published": False}).json()
    republished = client.patch(url, headers=author.headers, json={"is_published": True}).json()
    assert unpublished["published_at"] == republished["published_at"] == published["published_at"]
    assert client.patch(url, headers=author.headers, json={"title": ""}).status_code == 422


def test_a_change_moves_updated_at_and_is_what_a_read_returns(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author = accounts.user()
    draft = posts.create(author, published=False)
    url = f"{POSTS}/{draft['id']}"
    changed = client.patch(url, headers=author.headers, json={"content": "Rewritten"}).json()
    assert datetime.fromisoformat(changed["updated_at"]) > datetime.fromisoformat(draft["updated_at"])
    assert changed["created_at"] == draft["created_at"]
    assert client.get(url, headers=author.headers).json() == changed


def test_superuser_edits_and_deletes_any_post(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author, admin = accounts.user(), accounts.superuser()
    draft = posts.create(author, published=False)
    url = f"{POSTS}/{draft['id']}"
    assert client.patch(url, headers=admin.headers, json={"title": "Moderated"}).json()["title"] == "Moderated"
    assert client.delete(url, headers=admin.headers).status_code == 204
    assert client.get(url, headers=author.headers).status_code == 404


def test_author_deletes_own_post(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user()
    post = posts.create(author)
    url = f"{POSTS}/{post['id']}"
    assert client.delete(url, headers=author.headers).status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(url, headers=author.headers).status_code == 404


def test_unknown_and_malformed_post_ids(client: TestClient[Litestar], accounts: Accounts) -> None:
    author = accounts.user()
    assert client.get(f"{POSTS}/{uuid.uuid4()}").status_code == 404
    assert client.patch(f"{POSTS}/{uuid.uuid4()}", headers=author.headers, json={"title": "x"}).status_code == 404
    malformed = client.get(f"{POSTS}/not-a-uuid")
    assert invalid_fields(malformed) == [("path", "post_id")]


def test_deleting_a_user_removes_their_posts_and_profile(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine
) -> None:
    author, admin, reader = accounts.user(), accounts.superuser(), accounts.user()
    kept = posts.create(reader)
    created = [posts.create(author), posts.create(author, published=False)]
    assert client.put(f"{API}/users/me/profile", headers=author.headers, json={"bio": "hi"}).status_code == 200
    assert client.delete(f"{API}/users/{author.id}", headers=admin.headers).status_code == 204
    for post in created:
        assert client.get(f"{POSTS}/{post['id']}", headers=admin.headers).status_code == 404
    assert client.get(f"{API}/users/{author.id}/posts").status_code == 404
    listing = client.get(POSTS).json()
    assert [item["id"] for item in listing["items"]] == [kept["id"]]
    with Session(migrated) as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 0
        assert session.scalar(select(func.count()).select_from(Post)) == 1
