"""Listings of posts: pages of published posts and of one's own, with their filters, orders and totals.

A listing only reads, so it is served like the bearer's account (:mod:`app.users.identity`): SQLAlchemy Core on
an autocommit connection, rows straight into the response structs. No ORM identity map, no unit of work and no
transaction to open and end: on a page of twenty that was most of the request's cost. advanced-alchemy's
``OrderBy`` filters order the statement, as they do for the repositories; the page's size and offset are bound.

The total and the page are two statements; under READ COMMITTED they saw separate snapshots inside a transaction
too, so autocommit loses nothing. Values reach the statements as bound parameters, so each shape of listing is
built (and its SQLAlchemy cache key computed) once per process instead of on every request; only a free-text
search, whose SQLite form escapes the text into the statement, is built each time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advanced_alchemy.filters import OrderBy
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    table,
)

from app.posts.models import FULL_TEXT_CONFIG, Post, search_document
from app.posts.schemas import AuthorSummary, PostListItem
from app.users.models import User, full_name

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Mapping

    from sqlalchemy import Connection, Engine, Row

    from app.core.pagination import Page, PageRequest
    from app.posts.schemas import PostOrder

__all__ = ("PostListing",)

FEED_INDEX = "ix_post_published_feed"

# Each order ends on the id so that pages never overlap or skip rows that share a timestamp or title.
ORDERS: dict[str, tuple[OrderBy, ...]] = {
    name: tuple(OrderBy(field_name=field, sort_order=direction) for field, direction in fields)  # type: ignore[arg-type]
    for name, fields in {
        "-published_at": (("published_at", "desc"), ("id", "desc")),
        "published_at": (("published_at", "asc"), ("id", "asc")),
        "-created_at": (("created_at", "desc"), ("id", "desc")),
        "title": (("title", "asc"), ("id", "asc")),
    }.items()
}

# The author rides on the same query, with only the columns its summary needs.
_PAGE = select(
    Post.id,
    Post.title,
    Post.excerpt.label("excerpt"),
    Post.is_published,
    Post.published_at,
    Post.created_at,
    Post.updated_at,
    User.id.label("author_id"),
    User.email.label("author_email"),
    User.first_name.label("author_first_name"),
    User.last_name.label("author_last_name"),
).join(User, User.id == Post.author_id)

# The criteria a listing combines, values bound at execution.
_CRITERIA: dict[str, ColumnElement[bool]] = {
    "published": Post.is_published == True,  # noqa: E712  (SQL, and it must match the partial indexes)
    "author": Post.author_id == bindparam("author_id"),
    "state": Post.is_published == bindparam("is_published"),
}

# The planner's count of published posts: the size of the partial index that holds exactly them, as of the last
# (auto)vacuum or analyze. NULL before the index exists; -1 or 0 before it was ever analyzed.
_FEED_SIZE_ESTIMATE = (
    select(literal_column("reltuples", Float))
    .select_from(table("pg_class"))
    .where(literal_column("oid") == func.to_regclass(FEED_INDEX))
    .scalar_subquery()
)


def _list_item(row: Row[tuple[object, ...]]) -> PostListItem:
    return PostListItem(
        id=row.id,
        title=row.title,
        excerpt=row.excerpt,
        is_published=row.is_published,
        published_at=row.published_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        author=AuthorSummary(
            id=row.author_id, full_name=full_name(row.author_first_name, row.author_last_name, row.author_email)
        ),
    )


class PostListing:
    """Pages of posts. ``engine`` should be the autocommit engine (:func:`app.core.database.build_autocommit_engine`).

    Above ``count_estimate_threshold`` published posts the unfiltered feed's total is PostgreSQL's estimate: an
    exact count reads every published row's index entry on every request.
    """

    def __init__(self, engine: Engine, count_estimate_threshold: int) -> None:
        self.engine = engine
        self.count_estimate_threshold = count_estimate_threshold
        self.is_postgres = engine.dialect.name == "postgresql"
        self._built: dict[tuple[str, ...], Select[Any]] = {}

    def published(
        self, page: PageRequest, order: PostOrder, author_id: uuid.UUID | None = None, query: str | None = None
    ) -> Page[PostListItem]:
        names = ("published", "author") if author_id is not None else ("published",)
        parameters: dict[str, object] = {"author_id": author_id}
        with self.engine.connect() as connection:
            if query:
                criteria = [*(_CRITERIA[name] for name in names), self._matches(query)]
                total = connection.scalar(_count(criteria), parameters) or 0
                return self._page(connection, page, _ordered_page(criteria, order), parameters, total)
            if names == ("published",) and self.is_postgres:
                feed_total = self._statement(("feed-total",), lambda: self._feed_total(_CRITERIA["published"]))
                row = connection.execute(feed_total).one()
                total, is_estimate = int(row.total), bool(row.is_estimate)
            else:
                total, is_estimate = self._count(connection, names, parameters), False
            page_statement = self._page_statement(names, order)
            return self._page(connection, page, page_statement, parameters, total, is_estimate=is_estimate)

    def by_author(self, page: PageRequest, author_id: uuid.UUID, is_published: bool | None) -> Page[PostListItem]:
        """An author's own posts, drafts included unless ``is_published`` says otherwise."""
        names = ("author",) if is_published is None else ("author", "state")
        parameters = {"author_id": author_id, "is_published": is_published}
        with self.engine.connect() as connection:
            total = self._count(connection, names, parameters)
            return self._page(connection, page, self._page_statement(names, "-created_at"), parameters, total)

    def _statement(self, key: tuple[str, ...], build: Callable[[], Select[Any]]) -> Select[Any]:
        statement = self._built.get(key)
        if statement is None:
            statement = self._built[key] = build()
        return statement

    def _count(self, connection: Connection, names: tuple[str, ...], parameters: Mapping[str, object]) -> int:
        statement = self._statement(("count", *names), lambda: _count([_CRITERIA[name] for name in names]))
        return connection.scalar(statement, parameters) or 0

    def _page_statement(self, names: tuple[str, ...], order: str) -> Select[Any]:
        return self._statement(
            ("page", order, *names), lambda: _ordered_page([_CRITERIA[name] for name in names], order)
        )

    def _matches(self, query: str) -> ColumnElement[bool]:
        # PostgreSQL: full-text search over title and content (stemmed, GIN-indexed).
        # SQLite has no such index; it matches a case-insensitive substring of the title.
        if self.is_postgres:
            tsquery = func.websearch_to_tsquery(literal_column(f"'{FULL_TEXT_CONFIG}'"), query)
            return search_document().bool_op("@@")(tsquery)
        return Post.title.icontains(query, autoescape=True)

    def _feed_total(self, published: ColumnElement[bool]) -> Select[Any]:
        """The feed's size: the estimate if it is at least the threshold, else an exact count; one round trip.

        PostgreSQL runs an uncorrelated subquery only when its value is first needed, so the count is never
        executed when the estimate is used (``EXPLAIN ANALYZE`` shows it "never executed").
        """
        estimate_used = func.coalesce(self.count_estimate_threshold <= _FEED_SIZE_ESTIMATE, False)
        exact = _count([published]).scalar_subquery()
        return select(
            case((estimate_used, cast(_FEED_SIZE_ESTIMATE, BigInteger)), else_=exact).label("total"),
            estimate_used.label("is_estimate"),
        )

    @staticmethod
    def _page(
        connection: Connection,
        page: PageRequest,
        statement: Select[Any],
        parameters: Mapping[str, object],
        total: int,
        *,
        is_estimate: bool = False,
    ) -> Page[PostListItem]:
        if total == 0:
            return page.build([], 0)
        rows = connection.execute(
            statement, {**parameters, "page_limit": page.size, "page_offset": (page.page - 1) * page.size}
        ).all()
        return page.build([_list_item(row) for row in rows], total, total_is_estimate=is_estimate)


def _count(criteria: list[ColumnElement[bool]]) -> Select[Any]:
    return select(func.count()).select_from(Post).where(*criteria)


def _ordered_page(criteria: list[ColumnElement[bool]], order: str) -> Select[Any]:
    """The page query, ordered by advanced-alchemy's filters; its size and offset are bound at execution."""
    statement: Select[Any] = _PAGE.where(*criteria)
    for order_by in ORDERS[order]:
        statement = order_by.append_to_statement(statement, Post)
    return statement.limit(bindparam("page_limit")).offset(bindparam("page_offset"))
