"""The post listings by cursor: every order walked both ways (ties on the sort key included), the filters kept,
stability while others post, and cursors refused when altered or sent to another listing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from app.core.cursors import FOREIGN_CURSOR, INVALID_CURSOR, CursorCodec, Position, listing_fingerprint
from app.core.pagination import MAX_PAGE_DEPTH, PAGE_AND_CURSOR, TOO_DEEP
from app.posts.models import Post
from tests.factories import API, Accounts, Actor, Posts
from tests.pages import fetch, flatten, query_of, walk, walk_back
from tests.sql import executed_statements

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.testing import TestClient
    from sqlalchemy import Engine

POSTS = f"{API}/posts"
MINE = f"{API}/users/me/posts"
ORDERS = ("-published_at", "published_at", "-created_at", "title")


class _AnyText:
    """Equal to any non-empty string: a cursor, whose bytes are not the test's business."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    def __hash__(self) -> int:
        return 0


ANY: Any = _AnyText()


def _set(engine: Engine, post_ids: list[str], **values: Any) -> None:
    with Session(engine) as session:
        session.execute(update(Post).where(Post.id.in_([uuid.UUID(i) for i in post_ids])).values(**values))
        session.commit()


def _with_ties(engine: Engine, posts: Posts, author: Actor, count: int = 9) -> list[str]:
    """``count`` published posts where every sort key repeats: three share each title, publication and creation
    time (grouped differently, so that no order is another's)."""
    ids = [posts.create(author, title=f"Title {index % 3}")["id"] for index in range(count)]
    base = datetime.now(UTC) - timedelta(days=1)
    for group in range(3):
        _set(engine, ids[group::3][:2], published_at=base + timedelta(minutes=group))
        _set(engine, ids[group * 3 : group * 3 + 3], created_at=base - timedelta(minutes=group))
    return ids


def _error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    detail: str = response.json()["detail"]
    return detail


@pytest.mark.parametrize("order", ORDERS)
def test_every_order_walks_forward_and_back_through_ties(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine, order: str
) -> None:
    _with_ties(migrated, posts, accounts.user())
    posts.create(accounts.user(), published=False)
    whole = fetch(client, POSTS, order=order, size=100)
    assert len(whole.ids) == 9
    pages = walk(client, POSTS, order=order, size=2)
    assert [len(page.ids) for page in pages] == [2, 2, 2, 2, 1]
    assert flatten(pages) == whole.ids
    assert [page.body["page"] for page in pages] == [1, None, None, None, None]
    assert pages[0].body["prev"] is None
    assert all(query_of(page.body["next"]) == {"order": order, "size": "2", "cursor": ANY} for page in pages[:-1])
    back = walk_back(client, pages[-1])
    assert [page.ids for page in back] == [page.ids for page in reversed(pages[:-1])]
    assert back[-1].body["prev"] is None
    assert all(page.body["total"] == 9 for page in pages + back)


def test_links_keep_the_other_parameters(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user()
    for _ in range(3):
        posts.create(author, title="Gardening notes")
    posts.create(accounts.user(), title="Gardening elsewhere")
    first = fetch(client, POSTS, author_id=author.id, q="gardening", order="title", size=2)
    assert len(first.ids) == 2
    assert query_of(first.body["next"]) == {
        "author_id": author.id,
        "q": "gardening",
        "order": "title",
        "size": "2",
        "cursor": ANY,
    }
    assert set(first.links) == {"next", "first"}
    assert query_of(first.links["first"]) == {"author_id": author.id, "q": "gardening", "order": "title", "size": "2"}
    second = fetch(client, first.body["next"])
    assert len(second.ids) == 1
    assert set(second.links) == {"prev", "first"}
    assert (second.body["next"], second.body["page"], second.body["total"]) == (None, None, 3)


def test_a_cursor_holds_the_longest_title(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user()
    longest = "\U0001d11e" * 255  # four bytes each in UTF-8
    posts.create(author, title=longest)
    posts.create(author, title=longest)
    pages = walk(client, POSTS, order="title", size=1)
    assert [page.body["items"][0]["title"] for page in pages] == [longest, longest]
    assert len(pages[0].cursor) > 1_000


def test_numbered_pages_link_by_number(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user()
    created = [posts.create(author)["id"] for _ in range(5)]
    second = fetch(client, POSTS, page=2, size=2)
    assert second.ids == created[::-1][2:4]
    assert (query_of(second.body["next"]), query_of(second.body["prev"])) == (
        {"size": "2", "page": "3"},
        {"size": "2", "page": "1"},
    )
    third = fetch(client, second.body["next"])
    assert (third.ids, third.body["next"], third.body["page"]) == (created[:1], None, 3)
    assert fetch(client, POSTS, page=1, size=2).body["prev"] is None
    # Without a page number the links are cursors, from the same first page.
    assert "cursor" in query_of(fetch(client, POSTS, size=2).body["next"])


def test_page_numbers_reach_a_documented_depth(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    posts.create(accounts.user())
    deepest = MAX_PAGE_DEPTH // 100 + 1
    assert client.get(POSTS, params={"page": deepest, "size": 100}).status_code == 200
    assert _error(client.get(POSTS, params={"page": deepest + 1, "size": 100})) == TOO_DEEP
    assert _error(client.get(MINE, params={"page": 10**6}, headers=accounts.user().headers)) == TOO_DEEP


def test_the_deepest_numbered_page_links_on_by_cursor(
    client: TestClient[Litestar], accounts: Accounts, migrated: Engine
) -> None:
    author = accounts.user()
    start = datetime.now(UTC) - timedelta(days=30)
    rows = [
        {
            "id": uuid.uuid4(),
            "title": f"Deep {index}",
            "content": "Deep.",
            "is_published": True,
            "published_at": start + timedelta(seconds=index),
            "author_id": uuid.UUID(author.id),
            "created_at": start,
            "updated_at": start,
        }
        for index in range(MAX_PAGE_DEPTH + 150)
    ]
    with Session(migrated) as session:
        session.execute(insert(Post), rows)
        session.commit()
    newest_first = [str(row["id"]) for row in reversed(rows)]
    deepest = fetch(client, POSTS, page=MAX_PAGE_DEPTH // 100 + 1, size=100)
    assert deepest.ids == newest_first[MAX_PAGE_DEPTH : MAX_PAGE_DEPTH + 100]
    assert query_of(deepest.body["prev"]) == {"size": "100", "page": str(MAX_PAGE_DEPTH // 100)}
    assert set(query_of(deepest.body["next"])) == {"size", "cursor"}
    beyond = fetch(client, deepest.body["next"])
    assert (beyond.ids, beyond.body["next"]) == (newest_first[MAX_PAGE_DEPTH + 100 :], None)
    assert fetch(client, beyond.body["prev"]).ids == deepest.ids


def test_cursor_pages_stay_stable_while_others_post(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author, other = accounts.user(), accounts.user()
    for _ in range(7):
        posts.create(author)
    for order in ("-published_at", "-created_at"):
        before = fetch(client, POSTS, order=order, size=100).ids
        pages = walk(client, POSTS, order=order, size=2, between=lambda: posts.create(other))
        assert flatten(pages) == before, order
    # Walking back, the newer posts come before the first page read.
    first = fetch(client, POSTS, size=2)
    newest = posts.create(other)["id"]
    back = walk_back(client, fetch(client, first.body["next"]))
    assert back[0].ids == first.ids
    assert back[-1].ids[0] == newest


def test_a_users_posts_and_my_posts_by_cursor(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine
) -> None:
    author = accounts.user()
    ids = _with_ties(migrated, posts, author, count=6)
    drafts = [posts.create(author, published=False)["id"] for _ in range(3)]
    posts.create(accounts.user())
    users_posts = walk(client, f"{API}/users/{author.id}/posts", size=4)
    assert sorted(flatten(users_posts)) == sorted(ids)
    assert flatten(users_posts) == fetch(client, POSTS, author_id=author.id, size=100).ids
    assert flatten(walk_back(client, users_posts[-1])) == flatten(users_posts)[:4]
    mine = walk(client, MINE, author.headers, size=2)
    assert sorted(flatten(mine)) == sorted(ids + drafts)
    assert flatten(mine) == fetch(client, MINE, author.headers, size=100).ids
    back = walk_back(client, mine[-1], author.headers)
    assert [page.ids for page in back] == [page.ids for page in reversed(mine[:-1])]
    only_drafts = walk(client, MINE, author.headers, size=2, is_published="false")
    assert sorted(flatten(only_drafts)) == sorted(drafts)
    assert query_of(only_drafts[0].body["next"])["is_published"] == "false"


def test_a_cursor_of_another_listing_order_or_filter_is_400(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author, reader = accounts.user(), accounts.user()
    for _ in range(3):
        posts.create(author, title="Gardening")
    posts.create(author, published=False)
    feed = fetch(client, POSTS, size=1).cursor
    by_title = fetch(client, POSTS, size=1, order="title").cursor
    by_author = fetch(client, POSTS, size=1, author_id=author.id).cursor
    searched = fetch(client, POSTS, size=1, q="gardening").cursor
    users_posts = fetch(client, f"{API}/users/{author.id}/posts", size=1).cursor
    mine = fetch(client, MINE, author.headers, size=1).cursor
    my_drafts_too = fetch(client, MINE, author.headers, size=1, is_published="true").cursor
    refused = [
        client.get(POSTS, params={"cursor": by_title}),
        client.get(POSTS, params={"cursor": feed, "order": "title"}),
        client.get(POSTS, params={"cursor": feed, "author_id": author.id}),
        client.get(POSTS, params={"cursor": by_author}),
        client.get(POSTS, params={"cursor": searched, "q": "garden"}),
        client.get(POSTS, params={"cursor": users_posts, "author_id": author.id}),
        client.get(f"{API}/users/{author.id}/posts", params={"cursor": feed}),
        client.get(f"{API}/users/{reader.id}/posts", params={"cursor": users_posts}),
        client.get(MINE, params={"cursor": feed}, headers=author.headers),
        client.get(MINE, params={"cursor": mine}, headers=reader.headers),
        client.get(MINE, params={"cursor": my_drafts_too}, headers=author.headers),
        client.get(POSTS, params={"cursor": mine}),
    ]
    assert [_error(response) for response in refused] == [FOREIGN_CURSOR] * len(refused)
    # Each is accepted where it came from, with the same parameters.
    assert client.get(POSTS, params={"cursor": by_title, "order": "title", "size": 1}).status_code == 200
    assert client.get(MINE, params={"cursor": mine}, headers=author.headers).status_code == 200


def test_altered_or_unknown_cursors_are_400_never_500(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author = accounts.user()
    for _ in range(3):
        posts.create(author)
    cursor = fetch(client, POSTS, size=1).cursor
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    # A well-formed cursor for this very listing, sealed under another key.
    forged = CursorCodec("another secret key").seal(
        listing_fingerprint(("posts", "-published_at", None, None)),
        Position((datetime.now(UTC), uuid.uuid4()), backward=False),
    )
    for bad in (flipped, cursor[:-2], cursor + "AA", "A", "abc", "-_-_", "A" * 200, forged):
        assert _error(client.get(POSTS, params={"cursor": bad})) == INVALID_CURSOR, bad
    for malformed in ("a+b", "a=", "a b", "A" * 2001):
        assert client.get(POSTS, params={"cursor": malformed}).status_code == 422, malformed
    both = client.get(POSTS, params={"cursor": cursor, "page": 2})
    assert _error(both) == PAGE_AND_CURSOR
    assert _error(client.get(MINE, params={"cursor": "abc"}, headers=author.headers)) == INVALID_CURSOR
    assert _error(client.get(f"{API}/users/{author.id}/posts", params={"cursor": flipped})) == INVALID_CURSOR


def _skipped(statement: str, parameters: Any) -> int:
    """The rows a statement's OFFSET skips. SQLAlchemy writes ``OFFSET ?`` (bound to 0) after every SQLite ``LIMIT``;
    PostgreSQL's statements have an OFFSET only where the app asks for one."""
    if "OFFSET" not in statement.upper():
        return 0
    if isinstance(parameters, dict):  # psycopg's named parameters
        named: int = parameters["page_offset"]
        return named
    assert statement.rstrip().endswith("OFFSET ?"), statement
    positional: int = parameters[-1]
    return positional


def test_cursor_pages_never_use_offset(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, is_postgres: bool
) -> None:
    author = accounts.user()
    for _ in range(5):
        posts.create(author)
    with executed_statements() as by_cursor:
        pages = walk(client, POSTS, size=2, order="title")
        back = walk_back(client, pages[-1])
        walk(client, MINE, author.headers, size=2)
        walk(client, f"{API}/users/{author.id}/posts", size=2)
    assert len(pages) == 3
    assert len(back) == 2
    page_queries = [(statement, parameters) for statement, parameters in by_cursor if "FROM post" in statement]
    assert sum("LIMIT" in statement for statement, _ in page_queries) == 3 + 2 + 3 + 3
    assert [_skipped(*query) for query in page_queries] == [0] * len(page_queries)
    if is_postgres:
        assert not [statement for statement, _ in by_cursor if "OFFSET" in statement.upper()]
    with executed_statements() as by_number:
        assert fetch(client, POSTS, size=2, page=2).ids
    assert [_skipped(*query) for query in by_number if "LIMIT" in query[0]] == [2]
