"""Conditional GET: every single-resource GET carries a strong ETag, and If-None-Match naming it is a 304 with no
body, until the representation changes."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from app.core.conditional import entity_tag, matches_any
from tests.factories import API, Accounts, Posts


def _revalidate(client: TestClient[Litestar], path: str, headers: dict[str, str]) -> str:
    """GET ``path``, then GET it again with its ETag: 304, no body, the same tag; returns the tag."""
    first = client.get(path, headers=headers)
    assert first.status_code == 200, first.text
    tag = first.headers["etag"]
    assert tag == entity_tag(first.content)
    assert first.headers["cache-control"] == "private, no-cache"
    again = client.get(path, headers={**headers, "If-None-Match": f'W/"other", {tag}'})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
    return tag


def test_me_and_a_user_are_tagged_until_they_change(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin, actor = accounts.superuser(), accounts.user(first_name="Ada")
    me = _revalidate(client, f"{API}/users/me", actor.headers)
    as_seen_by_admin = _revalidate(client, f"{API}/users/{actor.id}", admin.headers)
    assert as_seen_by_admin == me  # one representation, one tag
    assert client.patch(f"{API}/users/me", json={"last_name": "Lovelace"}, headers=actor.headers).status_code == 200
    changed = client.get(f"{API}/users/me", headers={**actor.headers, "If-None-Match": me})
    assert changed.status_code == 200
    assert changed.json()["full_name"] == "Ada Lovelace"
    assert changed.headers["etag"] != me


def test_a_post_and_a_profile_are_tagged(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user(first_name="Grace")
    post = posts.create(author)
    tag = _revalidate(client, f"{API}/posts/{post['id']}", {})
    # The author's new name is part of the post's representation, so it changes the post's tag.
    assert client.patch(f"{API}/users/me", json={"first_name": "Ada"}, headers=author.headers).status_code == 200
    assert client.get(f"{API}/posts/{post['id']}", headers={"If-None-Match": tag}).status_code == 200
    assert client.put(f"{API}/users/me/profile", json={"bio": "Compilers"}, headers=author.headers).status_code == 200
    _revalidate(client, f"{API}/users/me/profile", author.headers)


def test_star_matches_and_errors_are_not_tagged(client: TestClient[Litestar], accounts: Accounts) -> None:
    actor = accounts.user()
    assert client.get(f"{API}/users/me", headers={**actor.headers, "If-None-Match": "*"}).status_code == 304
    missing = client.get(f"{API}/users/me/profile", headers=actor.headers)
    assert missing.status_code == 404
    assert "etag" not in missing.headers


def test_if_none_match_compares_tags_weakly() -> None:
    tag = entity_tag(b"{}")
    assert matches_any(f"W/{tag}", tag)
    assert matches_any(f' "x" ,{tag}', tag)
    assert not matches_any('"x"', tag)
    assert not matches_any(None, tag)
