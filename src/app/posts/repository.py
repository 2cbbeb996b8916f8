"""Reading and writing posts: the one way to read a post (whole, or as a page of list items) and to change one.

Every read selects exactly the columns of its response, author joined (only the columns ``full_name`` needs), and
builds the response structs from the rows: no identity map or unit of work between the database and the body.
Writes are single Core statements that return the columns the response needs. Statements are built once, at import,
with their values bound, so SQLAlchemy finds each compiled in its cache; only a free-text search, whose SQLite form
escapes the text into the statement, is built per request. advanced-alchemy's ``OrderBy`` filters order them, as
they do for its own methods.

A listing's total and its page are two statements; under READ COMMITTED they saw separate snapshots inside a
transaction too, so running them in autocommit (every read's session does) loses nothing.
"""

from __future__ import annotations

from itertools import product
from typing import TYPE_CHECKING, Any, get_args

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    table,
    update,
)

from app.core.pagination import Direction, KeysetPages
from app.core.repository import Repository
from app.posts.models import FULL_TEXT_CONFIG, Post, search_document
from app.posts.schemas import AuthorSummary, PostListItem, PostOrder, PostResponse
from app.users.models import User, full_name

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping

    from sqlalchemy import Row

    from app.core.cursors import CursorCodec
    from app.core.pagination import Listing, PageQuery

__all__ = ("PostRepository",)

FEED_INDEX = "ix_post_published_feed"

# Each order ends on the id so that pages never overlap or skip rows that share a timestamp or title; its fields are
# the keyset its cursors carry, and the columns of an index that serves it.
ORDERS: dict[str, tuple[tuple[str, ...], Direction]] = {
    "-published_at": (("published_at", "id"), "desc"),
    "published_at": (("published_at", "id"), "asc"),
    "-created_at": (("created_at", "id"), "desc"),
    "title": (("title", "id"), "asc"),
}
OWN_POSTS_ORDER = "-created_at"

_AUTHOR_COLUMNS = (
    User.id.label("author_id"),
    User.email.label("author_email"),
    User.first_name.label("author_first_name"),
    User.last_name.label("author_last_name"),
)
_POST_COLUMNS = (Post.id, Post.title, Post.is_published, Post.published_at, Post.created_at, Post.updated_at)

_POST_BY_ID = (
    select(*_POST_COLUMNS, Post.content, *_AUTHOR_COLUMNS)
    .join(User, User.id == Post.author_id)
    .where(Post.id == bindparam("post_id"))
)
_PAGE = select(*_POST_COLUMNS, Post.excerpt.label("excerpt"), *_AUTHOR_COLUMNS).join(User, User.id == Post.author_id)

# What the listings filter on, values bound at execution.
_PUBLISHED: ColumnElement[bool] = Post.is_published == True  # noqa: E712  (SQL, and it must match the partial indexes)
_BY_AUTHOR = Post.author_id == bindparam("author_id")
_IN_STATE = Post.is_published == bindparam("is_published")

# The planner's count of published posts: the size of the partial index that holds exactly them, as of the last
# (auto)vacuum or analyze. NULL before the index exists; -1 or 0 before it was ever analyzed.
_FEED_SIZE_ESTIMATE = (
    select(literal_column("reltuples", Float))
    .select_from(table("pg_class"))
    .where(literal_column("oid") == func.to_regclass(FEED_INDEX))
    .scalar_subquery()
)


def _count(*criteria: ColumnElement[bool]) -> Select[Any]:
    return select(func.count()).select_from(Post).where(*criteria)


def _pages(order: str, *criteria: ColumnElement[bool]) -> KeysetPages:
    """The statements that read the pages of posts ``criteria`` select, in ``order``."""
    fields, direction = ORDERS[order]
    return KeysetPages(_PAGE.where(*criteria), Post, fields, direction)


def _feed_total() -> Select[Any]:
    """The feed's size: the estimate if it is at least ``estimate_from``, else an exact count; one round trip.

    PostgreSQL runs an uncorrelated subquery only when its value is first needed, so the count is never executed
    when the estimate is used (``EXPLAIN ANALYZE`` shows it "never executed").
    """
    estimate_used = func.coalesce(bindparam("estimate_from", type_=BigInteger) <= _FEED_SIZE_ESTIMATE, False)
    return select(
        case((estimate_used, cast(_FEED_SIZE_ESTIMATE, BigInteger)), else_=_count(_PUBLISHED).scalar_subquery()).label(
            "total"
        ),
        estimate_used.label("is_estimate"),
    )


_FEED_TOTAL = _feed_total()
_COUNT_PUBLISHED = _count(_PUBLISHED)
_COUNT_PUBLISHED_BY_AUTHOR = _count(_PUBLISHED, _BY_AUTHOR)
_COUNT_BY_AUTHOR = _count(_BY_AUTHOR)
_COUNT_BY_AUTHOR_IN_STATE = _count(_BY_AUTHOR, _IN_STATE)
# (order, one author's only) -> the page of published posts
_PUBLISHED_PAGES = {
    (order, by_author): _pages(order, _PUBLISHED, *((_BY_AUTHOR,) if by_author else ()))
    for order, by_author in product(get_args(PostOrder), (False, True))
}
_OWN_PAGES = _pages(OWN_POSTS_ORDER, _BY_AUTHOR)
_OWN_PAGES_IN_STATE = _pages(OWN_POSTS_ORDER, _BY_AUTHOR, _IN_STATE)

_RETURNED = (*_POST_COLUMNS, Post.content, Post.author_id)
# The changed columns come as execution parameters, so each statement is built (and its cache key computed) once.
_INSERT = insert(Post).returning(*_RETURNED)
_UPDATE_BY_ID = update(Post).where(Post.id == bindparam("post_id")).returning(*_RETURNED)
_DELETE_BY_ID = delete(Post).where(Post.id == bindparam("post_id"))


def _author(row: Row[Any]) -> AuthorSummary:
    return AuthorSummary(
        id=row.author_id, full_name=full_name(row.author_first_name, row.author_last_name, row.author_email)
    )


def _list_item(row: Row[Any]) -> PostListItem:
    return PostListItem(
        id=row.id,
        title=row.title,
        excerpt=row.excerpt,
        is_published=row.is_published,
        published_at=row.published_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        author=_author(row),
    )


def _post(row: Row[Any], author: AuthorSummary) -> PostResponse:
    return PostResponse(
        id=row.id,
        title=row.title,
        content=row.content,
        is_published=row.is_published,
        published_at=row.published_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        author=author,
    )


class PostRepository(Repository[Post]):
    model_type = Post

    # -- reads ------------------------------------------------------------------------------------------------

    def read_post(self, post_id: uuid.UUID) -> PostResponse | None:
        row = self.rows(_POST_BY_ID, {"post_id": post_id}).one_or_none()
        return None if row is None else _post(row, _author(row))

    def read_published(
        self,
        page: PageQuery,
        cursors: CursorCodec,
        order: PostOrder,
        *,
        listing: str,
        author_id: uuid.UUID | None = None,
        query: str | None = None,
        estimate_from: int,
    ) -> Listing[PostListItem]:
        """A page of published posts, of one author or all; the whole feed's total is PostgreSQL's estimate once
        it holds ``estimate_from`` posts or more (an exact count reads every published row's index entry).

        ``listing`` names the listing for its cursors, which carry it with the order and filters.

        Raises:
            BadRequestError: the page's cursor is not one of this listing's.
        """
        parameters = {"author_id": author_id}
        if query:
            criteria = [_PUBLISHED, self._matches(query), *((_BY_AUTHOR,) if author_id is not None else ())]
            pages, counted = _pages(order, *criteria), _count(*criteria)
        elif author_id is not None:
            pages, counted = _PUBLISHED_PAGES[order, True], _COUNT_PUBLISHED_BY_AUTHOR
        else:
            pages, counted = _PUBLISHED_PAGES[order, False], None
        window = pages.window(page, cursors, (listing, order, author_id, query))
        if counted is not None or self._dialect.name != "postgresql":
            total = self.rows(_COUNT_PUBLISHED if counted is None else counted, parameters).scalar_one()
            return window.read(self.rows, parameters, total).map(_list_item)
        feed = self.rows(_FEED_TOTAL, {"estimate_from": estimate_from}).one()
        read = window.read(self.rows, parameters, int(feed.total), total_is_estimate=bool(feed.is_estimate))
        return read.map(_list_item)

    def read_by_author(
        self, page: PageQuery, cursors: CursorCodec, author_id: uuid.UUID, is_published: bool | None
    ) -> Listing[PostListItem]:
        """An author's own posts, newest first, drafts included unless ``is_published`` says otherwise.

        Raises:
            BadRequestError: the page's cursor is not one of this listing's.
        """
        parameters = {"author_id": author_id, "is_published": is_published}
        pages, counted = (
            (_OWN_PAGES, _COUNT_BY_AUTHOR) if is_published is None else (_OWN_PAGES_IN_STATE, _COUNT_BY_AUTHOR_IN_STATE)
        )
        window = pages.window(page, cursors, ("own-posts", author_id, is_published))
        return window.read(self.rows, parameters, self.rows(counted, parameters).scalar_one()).map(_list_item)

    def _matches(self, query: str) -> ColumnElement[bool]:
        # PostgreSQL: full-text search over title and content (stemmed, GIN-indexed).
        # SQLite has no such index; it matches a case-insensitive substring of the title.
        if self._dialect.name == "postgresql":
            tsquery = func.websearch_to_tsquery(literal_column(f"'{FULL_TEXT_CONFIG}'"), query)
            return search_document().bool_op("@@")(tsquery)
        return Post.title.icontains(query, autoescape=True)

    # -- writes -----------------------------------------------------------------------------------------------

    def insert_post(self, values: Mapping[str, Any], author: AuthorSummary) -> PostResponse:
        row = self.rows(_INSERT, values).one()
        return _post(row, author)

    def update_post(self, post_id: uuid.UUID, values: Mapping[str, Any], author: AuthorSummary) -> PostResponse | None:
        """The post as changed; None if it is gone."""
        row = self.rows(_UPDATE_BY_ID, {**values, "post_id": post_id}).one_or_none()
        return None if row is None else _post(row, author)

    def delete_post(self, post_id: uuid.UUID) -> None:
        self.rows(_DELETE_BY_ID, {"post_id": post_id})
