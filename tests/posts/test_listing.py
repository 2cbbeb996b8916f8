from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.application import create_app
from app.posts.models import Post
from tests.conftest import make_settings
from tests.factories import API, Accounts, Posts
from tests.problems import invalid_fields
from tests.sql import counted_statements, executed_statements

POSTS = f"{API}/posts"


def _ids(response: Any) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


def test_feed_lists_only_published_posts_newest_first_with_excerpts(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author = accounts.user(first_name="Ann")
    first = posts.create(author, content="a" * 500)
    posts.create(author, published=False)
    second = posts.create(author)
    response = client.get(POSTS)
    assert response.status_code == 200
    body = response.json()
    assert _ids(response) == [second["id"], first["id"]]
    assert (body["total"], body["page"], body["size"], body["pages"]) == (2, 1, 20, 1)
    item = body["items"][1]
    assert item["excerpt"] == "a" * 200
    assert "content" not in item
    assert item["author"] == {"id": author.id, "full_name": "Ann"}


def test_pagination_edges(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user()
    created = [posts.create(author)["id"] for _ in range(5)]
    newest_first = created[::-1]
    pages = [client.get(POSTS, params={"size": 2, "page": page}).json() for page in (1, 2, 3, 4)]
    assert [page["items"] and [i["id"] for i in page["items"]] for page in pages[:3]] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:5],
    ]
    assert [(page["total"], page["pages"]) for page in pages] == [(5, 3)] * 4
    assert pages[3]["items"] == []
    for params in ({"size": 101}, {"size": 0}, {"page": 0}, {"page": -1}):
        response = client.get(POSTS, params=params)
        assert invalid_fields(response) == [("query", next(iter(params)))], params
    assert client.get(POSTS, params={"size": 100}).status_code == 200


def test_orderings(client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine) -> None:
    author = accounts.user()
    banana = posts.create(author, title="Banana")
    apple = posts.create(author, title="apple pie")
    cherry = posts.create(author, title="Cherry")
    # Publication order differs from creation order: cherry, banana, apple.
    base = datetime.now(UTC) - timedelta(days=1)
    with Session(migrated) as session:
        for hours, post in ((3, apple), (2, banana), (1, cherry)):
            session.execute(
                update(Post).where(Post.id == uuid.UUID(post["id"])).values(published_at=base - timedelta(hours=hours))
            )
        session.commit()
    expected = {
        "-published_at": [cherry, banana, apple],
        "published_at": [apple, banana, cherry],
        "-created_at": [cherry, apple, banana],
    }
    for order, ordered in expected.items():
        assert _ids(client.get(POSTS, params={"order": order})) == [p["id"] for p in ordered], order
    titles = [item["title"] for item in client.get(POSTS, params={"order": "title"}).json()["items"]]
    assert titles == sorted(titles)
    assert _ids(client.get(POSTS)) == [p["id"] for p in expected["-published_at"]]
    unknown = client.get(POSTS, params={"order": "-title"})
    assert invalid_fields(unknown) == [("query", "order")]


def test_filter_by_author(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    alice, bob = accounts.user(), accounts.user()
    by_alice = posts.create(alice)
    posts.create(bob)
    response = client.get(POSTS, params={"author_id": alice.id})
    assert _ids(response) == [by_alice["id"]]
    assert response.json()["total"] == 1
    assert client.get(POSTS, params={"author_id": str(uuid.uuid4())}).json()["items"] == []
    bad = client.get(POSTS, params={"author_id": "alice"})
    assert invalid_fields(bad) == [("query", "author_id")]


def test_search_by_title(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user()
    gardening = posts.create(author, title="Gardening in spring")
    posts.create(author, title="Cooking pasta")
    posts.create(author, title="Gardening secrets", published=False)
    assert _ids(client.get(POSTS, params={"q": "gardening"})) == [gardening["id"]]
    assert client.get(POSTS, params={"q": "knitting"}).json()["total"] == 0
    assert client.get(POSTS, params={"q": ""}).status_code == 422


def test_search_semantics_per_database(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, is_postgres: bool
) -> None:
    """PostgreSQL: stemmed full-text search over title and content. SQLite: case-insensitive title substring."""
    author = accounts.user()
    match = posts.create(author, title="Weekend notes", content="We planted tomatoes and talked about compost.")
    percent = posts.create(author, title="100% cotton", content="Soft.")
    posts.create(author, title="1000 cotton", content="Nothing about plants here.")
    by_content = _ids(client.get(POSTS, params={"q": "planting tomato"}))
    by_fragment = _ids(client.get(POSTS, params={"q": "0%"}))
    if is_postgres:
        assert by_content == [match["id"]]
        assert by_fragment == []
    else:
        assert by_content == []
        assert by_fragment == [percent["id"]]
    assert client.get(POSTS, params={"q": "'; drop table post; --"}).status_code == 200
    assert client.get(POSTS).json()["total"] == 3


def test_listing_runs_a_bounded_number_of_statements(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    authors = [accounts.user() for _ in range(4)]
    for index in range(25):
        posts.create(authors[index % 4])
    with counted_statements() as small_page:
        assert len(client.get(POSTS, params={"size": 2}).json()["items"]) == 2
    with counted_statements() as full_page:
        response = client.get(POSTS, params={"size": 20})
    assert len(response.json()["items"]) == 20
    assert {item["author"]["id"] for item in response.json()["items"]} == {a.id for a in authors}
    # One total (a COUNT; on PostgreSQL with the size estimate beside it) and one page query with the authors
    # joined in: no statement per row or per author.
    assert len(full_page) == len(small_page) == 2, full_page
    assert sum("count(" in statement.lower() for statement in full_page) == 1
    assert sum("join user_account" in statement.lower() for statement in full_page) == 1


def test_my_posts_include_drafts_and_filter_by_state(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts
) -> None:
    author, other = accounts.user(), accounts.user()
    published = posts.create(author)
    draft = posts.create(author, published=False)
    posts.create(other)
    mine = client.get(f"{API}/users/me/posts", headers=author.headers)
    assert _ids(mine) == [draft["id"], published["id"]]
    drafts = client.get(f"{API}/users/me/posts", headers=author.headers, params={"is_published": "false"})
    assert _ids(drafts) == [draft["id"]]
    assert client.get(f"{API}/users/me/posts").status_code == 401
    assert client.get(f"{API}/users/me/posts", headers=author.headers, params={"size": 101}).status_code == 422


def test_a_users_public_posts(client: TestClient[Litestar], accounts: Accounts, posts: Posts) -> None:
    author = accounts.user()
    published = posts.create(author)
    posts.create(author, published=False)
    response = client.get(f"{API}/users/{author.id}/posts")
    assert response.status_code == 200
    assert _ids(response) == [published["id"]]
    assert client.get(f"{API}/users/{uuid.uuid4()}/posts").status_code == 404
    assert client.get(f"{API}/users/not-a-uuid/posts").status_code == 422
    assert client.get(f"{API}/users/{author.id}/posts", params={"page": 2}).json()["items"] == []


def test_large_feed_totals_are_estimates_and_filtered_ones_exact(
    database_url: str, accounts: Accounts, posts: Posts, migrated: Engine, is_postgres: bool
) -> None:
    author = accounts.user()
    for _ in range(3):
        posts.create(author)
    posts.create(author, published=False)
    if is_postgres:
        with migrated.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE post")
    settings = make_settings(database_url, POSTS_COUNT_ESTIMATE_THRESHOLD="2")
    with TestClient(app=create_app(settings)) as client, executed_statements() as statements:
        feed = client.get(POSTS, params={"size": 2}).json()
        by_author = client.get(POSTS, params={"author_id": author.id}).json()
    assert (feed["total"], feed["pages"], len(feed["items"])) == (3, 2, 2)
    # PostgreSQL reads the size from its statistics instead of counting; SQLite has none and always counts.
    assert feed["total_is_estimate"] is is_postgres
    assert (by_author["total"], by_author["total_is_estimate"]) == (3, False)
    # A total and a page each: on PostgreSQL the feed's total reads the estimate and holds the count for when the
    # estimate is below the threshold; PostgreSQL runs that count only if needed, and here it was not.
    assert len(statements) == 4, statements
    feed_total, parameters = statements[0]
    assert "reltuples" in feed_total.lower() if is_postgres else "count(" in feed_total.lower()
    if is_postgres:
        with migrated.connect() as connection:
            plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {feed_total}", parameters).scalars().all()
        aggregate = next(line for line in plan if "Aggregate" in line)
        assert "never executed" in aggregate, plan
