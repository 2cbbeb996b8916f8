"""Pages of a listing: the envelope clients read, and keyset reads that cost the same at any depth.

A keyset listing (:class:`KeysetPages`) reads its first page and every page reached by cursor with a bound on its
sort key (``WHERE (published_at, id) < (:key_0, :key_1) ORDER BY published_at DESC, id DESC LIMIT n``), which an
index answers by reading the page's rows only; rows inserted meanwhile are never skipped nor repeated. A page asked
for by number is read with ``OFFSET``, up to :data:`MAX_PAGE_DEPTH` rows deep. Listings whose rows stay few
(sessions, audit events, failed emails) page by number alone, through :class:`PageRequest` and advanced-alchemy's
``LimitOffset`` filter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

import msgspec
from advanced_alchemy.filters import LimitOffset, OrderBy
from litestar.params import QueryParameter
from sqlalchemy import bindparam, tuple_

from app.core.cursors import Position, listing_fingerprint
from app.core.errors import BadRequestError

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Result, Row, Select

    from app.core.cursors import CursorCodec

__all__ = (
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_DEPTH",
    "MAX_PAGE_NUMBER",
    "MAX_PAGE_SIZE",
    "CursorParameter",
    "Direction",
    "KeysetPageNumber",
    "KeysetPages",
    "Listing",
    "Page",
    "PageNumber",
    "PageQuery",
    "PageRef",
    "PageRequest",
    "PageSize",
)

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Far deeper than anyone pages by number; it keeps every offset inside the databases' 64-bit integers.
MAX_PAGE_NUMBER = 1_000_000
MAX_PAGE_DEPTH = 10_000
"""How many rows a keyset listing's page by number may skip: deeper pages are read by cursor."""
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
# A title of 255 four-byte characters makes a cursor of about 1,430.
MAX_CURSOR_LENGTH = 2_000

PAGE_AND_CURSOR = "Send either `page` or `cursor`, not both"
TOO_DEEP = (
    f"Pages by number reach {MAX_PAGE_DEPTH:,} items deep; go further by cursor: follow the `next` links "
    "(in the body or the `Link` header)"
)


class PageRequest(msgspec.Struct, frozen=True):
    """Which page a client asked for, as a 1-based page number and a page size."""

    page: int
    size: int

    @property
    def filter(self) -> LimitOffset:
        return LimitOffset(limit=self.size, offset=(self.page - 1) * self.size)

    def build(self, items: Sequence[T], total: int) -> Listing[T]:
        """The page of ``items`` out of ``total``, linked to the pages before and after it by number."""
        following = PageRef(page=self.page + 1) if self.page * self.size < total else None
        preceding = PageRef(page=self.page - 1) if self.page > 1 else None
        return Listing(list(items), total, self.page, self.size, False, following, preceding)


class Page(msgspec.Struct, Generic[T]):
    """One page of a listing: ``pages`` is the number of pages ``total`` items fill at this ``size``.

    ``total_is_estimate`` is true when ``total`` comes from the database's statistics instead of a count,
    which only the unfiltered post feed does, above a size where counting would cost more than the page.
    ``page`` is null on a page read by cursor. ``next`` and ``prev`` are the URLs of the neighbouring pages (null
    where there is none), also sent in the ``Link`` header.
    """

    items: list[T]
    total: int
    page: int | None
    size: int
    pages: int
    total_is_estimate: bool = False
    next: str | None = None
    prev: str | None = None


@dataclass(frozen=True, slots=True)
class PageRef:
    """A page to link to: by number, by cursor, or (neither) the first page."""

    page: int | None = None
    cursor: str | None = None


FIRST_PAGE = PageRef()


@dataclass(frozen=True, slots=True)
class PageQuery:
    """Which page of a keyset listing a client asked for: by ``page`` number, by ``cursor``, or (neither) the first.

    Raises:
        BadRequestError: both ``page`` and ``cursor``, or a page number deeper than :data:`MAX_PAGE_DEPTH`.
    """

    size: int
    page: int | None = None
    cursor: str | None = None

    def __post_init__(self) -> None:
        if self.page is not None and self.cursor is not None:
            raise BadRequestError(PAGE_AND_CURSOR)
        if self.page is not None and (self.page - 1) * self.size > MAX_PAGE_DEPTH:
            raise BadRequestError(TOO_DEEP)


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """A page as a listing reads it: its items, their total, and the pages before and after it (None: none)."""

    items: list[T]
    total: int
    page: int | None
    size: int
    total_is_estimate: bool
    next: PageRef | None
    prev: PageRef | None

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size)

    def map(self, convert: Callable[[T], U]) -> Listing[U]:
        """The same page with each item converted, e.g. from a row to its response body."""
        return Listing(
            [convert(item) for item in self.items],
            self.total,
            self.page,
            self.size,
            self.total_is_estimate,
            self.next,
            self.prev,
        )


Direction = Literal["asc", "desc"]
RowsOf = Callable[["Select[Any]", Mapping[str, Any]], "Result[Any]"]


class KeysetPages:
    """The statements that read the pages of one listing (``base``, filters included) in one order.

    ``fields`` are the model's columns the listing sorts on, all ascending or all descending, the last one unique
    (the id), so that a row's values name its place exactly. Each statement orders with advanced-alchemy's
    ``OrderBy``; the key bound and the page size are bound at execution.
    """

    __slots__ = ("_bounds", "_columns", "_fields", "after", "before", "by_number", "first", "key_type")

    def __init__(self, base: Select[Any], model: type[Any], fields: Sequence[str], direction: Direction) -> None:
        self._fields = tuple(fields)
        self._columns: tuple[ColumnElement[Any], ...] = tuple(getattr(model, field) for field in fields)
        self._bounds = tuple(f"key_{index}" for index in range(len(fields)))
        self.key_type: Any = tuple.__class_getitem__(tuple(column.type.python_type for column in self._columns))
        bound = tuple_(*(bindparam(name, type_=c.type) for name, c in zip(self._bounds, self._columns, strict=True)))
        row = tuple_(*self._columns)
        reverse: Direction = "asc" if direction == "desc" else "desc"
        forward, backward = self._ordered(base, model, direction), self._ordered(base, model, reverse)
        self.first = forward
        # Reading forward in a descending order is reading smaller keys.
        self.after = forward.where(row < bound if direction == "desc" else row > bound)
        self.before = backward.where(row > bound if direction == "desc" else row < bound)
        self.by_number = forward.offset(bindparam("page_offset"))

    def _ordered(self, base: Select[Any], model: type[Any], direction: Direction) -> Select[Any]:
        statement = base
        for field in self._fields:
            statement = OrderBy(field_name=field, sort_order=direction).append_to_statement(statement, model)
        return statement.limit(bindparam("page_limit"))

    def key(self, row: Row[Any]) -> tuple[Any, ...]:
        """The sort key of ``row``, which names its place in the listing."""
        return tuple(getattr(row, field) for field in self._fields)

    def bounds(self, key: tuple[Any, ...]) -> dict[str, Any]:
        """The statements' parameters that bound a page by ``key``."""
        return dict(zip(self._bounds, key, strict=True))

    def window(self, query: PageQuery, cursors: CursorCodec, listing: Sequence[object]) -> Window:
        """The page ``query`` asks for of ``listing`` (its name, order and filter values, as its cursors carry).

        Raises:
            BadRequestError: the query's cursor is not one of this listing's.
        """
        fingerprint = listing_fingerprint(listing)
        position = None if query.cursor is None else cursors.open(query.cursor, fingerprint, self.key_type)
        return Window(self, query, cursors, fingerprint, position)


@dataclass(frozen=True, slots=True)
class Window:
    """One page of a keyset listing, before it is read."""

    pages: KeysetPages
    query: PageQuery
    cursors: CursorCodec
    fingerprint: bytes
    position: Position | None

    def _cursor(self, row: Row[Any], *, backward: bool) -> PageRef:
        return PageRef(cursor=self.cursors.seal(self.fingerprint, Position(self.pages.key(row), backward)))

    def read(
        self, rows_of: RowsOf, parameters: Mapping[str, Any], total: int, *, total_is_estimate: bool = False
    ) -> Listing[Row[Any]]:
        """Read the page with ``rows_of`` (the repository's way to run a statement), one row more than it holds to
        tell whether a page follows."""
        query, pages, position = self.query, self.pages, self.position
        if position is not None:
            statement = pages.before if position.backward else pages.after
            rows = self._rows(rows_of, statement, {**parameters, **pages.bounds(position.key)}, total)
            more, rows = len(rows) > query.size, rows[: query.size]
            if position.backward:
                rows.reverse()
                preceding = self._cursor(rows[0], backward=True) if more else None
                # Nothing is left before the boundary: what follows it is the first page.
                following: PageRef | None = self._cursor(rows[-1], backward=False) if rows else FIRST_PAGE
            else:
                preceding = self._cursor(rows[0], backward=True) if rows else None
                following = self._cursor(rows[-1], backward=False) if more else None
            return Listing(rows, total, None, query.size, total_is_estimate, following, preceding)
        number = query.page or 1
        if number > 1:
            rows = self._rows(rows_of, pages.by_number, {**parameters, "page_offset": (number - 1) * query.size}, total)
        else:
            rows = self._rows(rows_of, pages.first, parameters, total)
        more, rows = len(rows) > query.size, rows[: query.size]
        if query.page is None:
            following = self._cursor(rows[-1], backward=False) if more else None
            return Listing(rows, total, number, query.size, total_is_estimate, following, None)
        # Asked by number, linked by number, as deep as numbers reach; on from there by cursor.
        preceding = PageRef(page=number - 1) if number > 1 else None
        if not more:
            following = None
        elif number * query.size <= MAX_PAGE_DEPTH:
            following = PageRef(page=number + 1)
        else:
            following = self._cursor(rows[-1], backward=False)
        return Listing(rows, total, number, query.size, total_is_estimate, following, preceding)

    def _rows(
        self, rows_of: RowsOf, statement: Select[Any], parameters: Mapping[str, Any], total: int
    ) -> list[Row[Any]]:
        """The page's rows and the one after it; none, without a statement, when the listing is empty."""
        if total == 0:
            return []
        # All at once: a fetch per row would cost more than the page's query.
        return list(rows_of(statement, {**parameters, "page_limit": self.query.size + 1}).all())


# The ``page``, ``size`` and ``cursor`` query parameters of every listing. Handler parameters rather than a
# dependency: Litestar resolves two or more dependencies of one handler concurrently, in an anyio task group per
# request, which cost a listing more than building its page of rows.
PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_NUMBER, description="1-based page number")]
PageSize = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
KeysetPageNumber = Annotated[
    int | None,
    QueryParameter(
        ge=1,
        le=MAX_PAGE_NUMBER,
        description=(
            f"1-based page number, up to {MAX_PAGE_DEPTH:,} items deep (deeper is 400: page by cursor). Leave it out "
            "to page by cursor from the first page"
        ),
    ),
]
CursorParameter = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        pattern=CURSOR_PATTERN,
        description=(
            "opaque position from a `next` or `prev` link; send it with the other query parameters of that link. "
            "A cursor that is altered, or of another listing, order or filter, is 400; so is `cursor` with `page`"
        ),
    ),
]
