"""Listings of posts: pages of published posts and of one's own, with their filters, orders and totals.

A listing only reads, so it is served like the bearer's account (:mod:`app.users.identity`): SQLAlchemy Core on
an autocommit connection, rows straight into the response structs. No ORM identity map, no unit of work and no
transaction to open and end: on a page of twenty that was most of the request's cost. advanced-alchemy's
``OrderBy`` and ``LimitOffset`` filters shape the statement, as they do for the repositories.

The count and the page are two statements; under READ COMMITTED they saw separate snapshots inside a transaction
too, so autocommit loses nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advanced_alchemy.filters import OrderBy
from sqlalchemy import BigInteger, ColumnElement, Float, Select, case, cast, func, literal_column, select, table

from app.posts.models import FULL_TEXT_CONFIG, Post, search_document
from app.posts.schemas import AuthorSummary, PostListItem
from app.users.models import User, full_name

if TYPE_CHECKING:
    import uuid

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
    """Pages of posts. ``engine`` should be in autocommit (:func:`app.users.identity.autocommit_engine`).

    Above ``count_estimate_threshold`` published posts the unfiltered feed's total is PostgreSQL's estimate: an
    exact count reads every published row's index entry on every request.
    """

    def __init__(self, engine: Engine, count_estimate_threshold: int) -> None:
        self.engine = engine
        self.count_estimate_threshold = count_estimate_threshold
        self.is_postgres = engine.dialect.name == "postgresql"

    def published(
        self, page: PageRequest, order: PostOrder, author_id: uuid.UUID | None = None, query: str | None = None
    ) -> Page[PostListItem]:
        criteria: list[ColumnElement[bool]] = [Post.is_published == True]  # noqa: E712  (SQL, and it must match the partial indexes)
        if author_id is not None:
            criteria.append(Post.author_id == author_id)
        if query:
            criteria.append(self._matches(query))
        with self.engine.connect() as connection:
            if author_id is None and not query and self.is_postgres:
                total, is_estimate = self._feed_total(connection, criteria)
            else:
                total, is_estimate = self._count(connection, criteria), False
            return self._page(connection, page, criteria, order, total, is_estimate=is_estimate)

    def by_author(self, page: PageRequest, author_id: uuid.UUID, is_published: bool | None) -> Page[PostListItem]:
        """An author's own posts, drafts included unless ``is_published`` says otherwise."""
        criteria: list[ColumnElement[bool]] = [Post.author_id == author_id]
        if is_published is not None:
            criteria.append(Post.is_published == is_published)
        with self.engine.connect() as connection:
            return self._page(connection, page, criteria, "-created_at", self._count(connection, criteria))

    def _matches(self, query: str) -> ColumnElement[bool]:
        # PostgreSQL: full-text search over title and content (stemmed, GIN-indexed).
        # SQLite has no such index; it matches a case-insensitive substring of the title.
        if self.is_postgres:
            tsquery = func.websearch_to_tsquery(literal_column(f"'{FULL_TEXT_CONFIG}'"), query)
            return search_document().bool_op("@@")(tsquery)
        return Post.title.icontains(query, autoescape=True)

    @staticmethod
    def _count(connection: Connection, criteria: list[ColumnElement[bool]]) -> int:
        return connection.scalar(select(func.count()).select_from(Post).where(*criteria)) or 0

    def _feed_total(self, connection: Connection, criteria: list[ColumnElement[bool]]) -> tuple[int, bool]:
        """The feed's size: the estimate if it is at least the threshold, else an exact count; one round trip.

        PostgreSQL runs an uncorrelated subquery only when its value is first needed, so the count is never
        executed when the estimate is used (``EXPLAIN ANALYZE`` shows it "never executed").
        """
        estimate_used = func.coalesce(self.count_estimate_threshold <= _FEED_SIZE_ESTIMATE, False)
        exact = select(func.count()).select_from(Post).where(*criteria).scalar_subquery()
        statement = select(
            case((estimate_used, cast(_FEED_SIZE_ESTIMATE, BigInteger)), else_=exact).label("total"),
            estimate_used.label("is_estimate"),
        )
        row = connection.execute(statement).one()
        return int(row.total), bool(row.is_estimate)

    @staticmethod
    def _page(
        connection: Connection,
        page: PageRequest,
        criteria: list[ColumnElement[bool]],
        order: str,
        total: int,
        *,
        is_estimate: bool = False,
    ) -> Page[PostListItem]:
        if total == 0:
            return page.build([], 0)
        statement: Select[tuple[object, ...]] = _PAGE.where(*criteria)
        for statement_filter in (*ORDERS[order], page.filter):
            statement = statement_filter.append_to_statement(statement, Post)
        rows = connection.execute(statement).all()
        return page.build([_list_item(row) for row in rows], total, total_is_estimate=is_estimate)
