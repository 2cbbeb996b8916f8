"""The listing queries the app really sends can be served by the partial indexes, on both databases.

This guards the predicate spelling: ``is_published IS true`` for instance defeats PostgreSQL's partial-index match.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from tests.factories import API, Accounts, Posts
from tests.sql import executed_statements


def _plan(engine: Engine, statement: str, parameters: Any) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
        else:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "\n".join(str(row[-1]) for row in rows)


def _page_query(executed: list[tuple[str, Any]], table: str) -> tuple[str, Any]:
    """The one page query (not a count) a request sent."""
    (page_query,) = [
        (statement, parameters)
        for statement, parameters in executed
        if statement.lstrip().upper().startswith("SELECT")
        and f"FROM {table}" in statement
        and "LIMIT" in statement
        and "count(" not in statement.lower()
    ]
    return page_query


def _plans_of_every_page(
    client: TestClient[Litestar],
    engine: Engine,
    url: str,
    params: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> list[str]:
    """The plans of the first page, the next one by cursor, and the one before that (read backwards)."""
    table = "post" if url.endswith("posts") else "user_account"

    def plan_of(url: str, **params: Any) -> tuple[str, dict[str, Any]]:
        with executed_statements() as executed:
            response = client.get(url, params=params or None, headers=headers)
        assert response.status_code == 200, response.text
        return _plan(engine, *_page_query(executed, table)), response.json()

    first, first_page = plan_of(url, **params)
    following, next_page = plan_of(first_page["next"])
    preceding, _ = plan_of(next_page["prev"])
    return [first, following, preceding]


@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({}, "ix_post_published_feed"),
        ({"order": "title"}, "ix_post_published_title"),
        ({"order": "-created_at"}, "ix_post_published_created"),
        ({"order": "published_at"}, "ix_post_published_feed"),
    ],
)
def test_feed_queries_use_their_partial_index(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine, params: dict[str, str], index: str
) -> None:
    author = accounts.user()
    for _ in range(3):
        posts.create(author)
    for plan in _plans_of_every_page(client, migrated, f"{API}/posts", {"size": 1, **params}):
        assert index in plan, plan


def test_author_and_account_listings_use_their_index(
    client: TestClient[Litestar], accounts: Accounts, posts: Posts, migrated: Engine
) -> None:
    author, admin = accounts.user(), accounts.superuser()
    accounts.user()
    for _ in range(3):
        posts.create(author)
    listings = {
        f"{API}/users/{author.id}/posts": ("ix_post_author_published_feed", {}),
        f"{API}/users/me/posts": ("ix_post_author_created", author.headers),
        f"{API}/users": ("ix_user_account_created", admin.headers),
    }
    for url, (index, headers) in listings.items():
        for plan in _plans_of_every_page(client, migrated, url, {"size": 1}, headers):
            assert index in plan, (url, plan)
