"""The page envelope of every listing, built on advanced-alchemy's ``LimitOffset`` filter."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar.params import QueryParameter

__all__ = ("DEFAULT_PAGE_SIZE", "MAX_PAGE_NUMBER", "MAX_PAGE_SIZE", "Page", "PageNumber", "PageRequest", "PageSize")

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Far deeper than anyone pages by number; it keeps every offset inside the databases' 64-bit integers.
MAX_PAGE_NUMBER = 1_000_000


class PageRequest(msgspec.Struct, frozen=True):
    """Which page a client asked for, as a 1-based page number and a page size."""

    page: int
    size: int

    @property
    def filter(self) -> LimitOffset:
        return LimitOffset(limit=self.size, offset=(self.page - 1) * self.size)

    def build(self, items: Sequence[T], total: int, *, total_is_estimate: bool = False) -> Page[T]:
        return Page(
            items=list(items),
            total=total,
            page=self.page,
            size=self.size,
            pages=math.ceil(total / self.size),
            total_is_estimate=total_is_estimate,
        )


class Page(msgspec.Struct, Generic[T]):
    """One page of a listing: ``pages`` is the number of pages ``total`` items fill at this ``size``.

    ``total_is_estimate`` is true when ``total`` comes from the database's statistics instead of a count,
    which only the unfiltered post feed does, above a size where counting would cost more than the page.
    """

    items: list[T]
    total: int
    page: int
    size: int
    pages: int
    total_is_estimate: bool = False

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted, e.g. from a model to its response body."""
        return Page(
            items=[convert(item) for item in self.items],
            total=self.total,
            page=self.page,
            size=self.size,
            pages=self.pages,
            total_is_estimate=self.total_is_estimate,
        )


# The ``page`` and ``size`` query parameters of every listing. Handler parameters rather than a dependency: Litestar
# resolves two or more dependencies of one handler concurrently, in an anyio task group per request, which cost a
# listing more than building its page of rows.
PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_NUMBER, description="1-based page number")]
PageSize = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
