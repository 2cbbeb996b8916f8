"""Conditional GET: every single-resource GET carries a strong ETag, and If-None-Match naming it is a 304 with no
body, until the representation changes."""

from __future__ import annotations

import threading
from contextlib import ExitStack

from litestar import Litestar
from litestar.testing import TestClient

from app.application import create_app
from app.core.entity_tags import PRECONDITION_FAILED, entity_tag, matches_any
from app.core.settings import Settings
from tests.factories import API, Accounts, Posts
from tests.problems import about_blank, problem


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


STALE = '"not-the-current-tag"'


def test_if_match_guards_every_change_of_a_post(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user()
    post = posts.create(author, title="First")
    path = f"{API}/posts/{post['id']}"
    tag = client.get(path).headers["etag"]
    stale = client.patch(path, json={"title": "Lost"}, headers={**author.headers, "If-Match": STALE})
    assert problem(stale) == about_blank(412, PRECONDITION_FAILED)
    assert (
        client.patch(path, json={"title": "Weak"}, headers={**author.headers, "If-Match": f"W/{tag}"}).status_code
        == 412
    )
    assert client.delete(path, headers={**author.headers, "If-Match": STALE}).status_code == 412
    assert client.get(path).json()["title"] == "First"
    changed = client.patch(path, json={"title": "Second"}, headers={**author.headers, "If-Match": tag})
    assert changed.status_code == 200
    assert changed.json()["title"] == "Second"
    # The editor who read "First" cannot overwrite "Second" with their tag, nor delete it.
    assert client.patch(path, json={"title": "Third"}, headers={**author.headers, "If-Match": tag}).status_code == 412
    assert client.delete(path, headers={**author.headers, "If-Match": tag}).status_code == 412
    current = client.get(path).headers["etag"]
    assert current == entity_tag(client.get(path).content)
    assert client.delete(path, headers={**author.headers, "If-Match": f'"x", {current}'}).status_code == 204
    assert client.patch(path, json={"title": "Gone"}, headers={**author.headers, "If-Match": "*"}).status_code == 404


def test_if_match_guards_an_account_and_its_profile(client: TestClient[Litestar], accounts: Accounts) -> None:
    admin, actor = accounts.superuser(), accounts.user()
    me, profile = f"{API}/users/me", f"{API}/users/me/profile"
    # No profile yet: no tag can match, not even "*".
    assert client.put(profile, json={"bio": "x"}, headers={**actor.headers, "If-Match": "*"}).status_code == 412
    assert client.put(profile, json={"bio": "Compilers"}, headers=actor.headers).status_code == 200
    profile_tag = client.get(profile, headers=actor.headers).headers["etag"]
    assert client.put(profile, json={"bio": "B"}, headers={**actor.headers, "If-Match": STALE}).status_code == 412
    replaced = client.put(profile, json={"bio": "Engines"}, headers={**actor.headers, "If-Match": profile_tag})
    assert replaced.status_code == 200

    account_tag = client.get(me, headers=actor.headers).headers["etag"]
    by_admin = client.patch(
        f"{API}/users/{actor.id}", json={"first_name": "Ada"}, headers={**admin.headers, "If-Match": account_tag}
    )
    assert by_admin.status_code == 200
    # The owner's copy is stale now: their change is refused, and so is deleting the account with it.
    assert (
        client.patch(me, json={"first_name": "Bob"}, headers={**actor.headers, "If-Match": account_tag}).status_code
        == 412
    )
    assert client.delete(me, headers={**actor.headers, "If-Match": account_tag}).status_code == 412
    assert client.get(me, headers=actor.headers).json()["first_name"] == "Ada"
    fresh = client.get(me, headers=actor.headers).headers["etag"]
    assert client.patch(me, json={"first_name": "Bob"}, headers={**actor.headers, "If-Match": fresh}).status_code == 200
    user_tag = client.get(f"{API}/users/{actor.id}", headers=admin.headers).headers["etag"]
    assert client.delete(f"{API}/users/{actor.id}", headers={**admin.headers, "If-Match": STALE}).status_code == 412
    assert client.delete(f"{API}/users/{actor.id}", headers={**admin.headers, "If-Match": user_tag}).status_code == 204


def test_two_editors_with_one_tag_never_both_win(
    settings: Settings, accounts: Accounts, posts: Posts, client: TestClient[Litestar]
) -> None:
    """Two web processes, each asked at the same moment to change a post read with the same tag: one change lands,
    the other is 412, never a silent overwrite."""
    author = accounts.user()
    post = posts.create(author, title="Original")
    path = f"{API}/posts/{post['id']}"
    tag = client.get(path).headers["etag"]
    start = threading.Barrier(2)
    statuses: list[int] = []

    def edit(process: TestClient[Litestar], title: str) -> None:
        start.wait(timeout=10)
        response = process.patch(path, json={"title": title}, headers={**author.headers, "If-Match": tag})
        statuses.append(response.status_code)

    with ExitStack() as stack:
        processes = [stack.enter_context(TestClient(app=create_app(settings))) for _ in range(2)]
        editors = [threading.Thread(target=edit, args=(process, f"Edit {n}")) for n, process in enumerate(processes)]
        for editor in editors:
            editor.start()
        for editor in editors:
            editor.join(timeout=30)
    assert sorted(statuses) == [200, 412]
    assert client.get(path).json()["title"] in {"Edit 0", "Edit 1"}
