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
    posts.create(accounts.user())
    with executed_statements() as executed:
        assert client.get(f"{API}/posts", params=params).status_code == 200
    page_query = next(
        (statement, parameters)
        for statement, parameters in executed
        if statement.lstrip().upper().startswith("SELECT")
        and "FROM post" in statement
        and "count(" not in statement.lower()
    )
    plan = _plan(migrated, *page_query)
    assert index in plan, plan
