"""A listing's page as an HTTP answer: the :class:`Page` body and its neighbours as links, in the body and in an
RFC 8288 ``Link`` header (``rel="next"``, ``"prev"``, ``"first"``).

Links are references relative to the API's origin (as ``Location`` is) that keep every query parameter of the
request but ``page`` and ``cursor``, which they set: the next page has the same filters, order and size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from litestar import Response
from litestar.datastructures import ResponseHeader

from app.core.pagination import FIRST_PAGE, Page

if TYPE_CHECKING:
    from collections.abc import Callable

    from litestar import Request

    from app.core.pagination import Listing, PageRef

__all__ = ("PAGE_HEADERS", "page_response")

T = TypeVar("T")

_POSITION_PARAMETERS = frozenset({"page", "cursor"})

PAGE_HEADERS = [
    ResponseHeader(
        name="Link",
        description=(
            'RFC 8288 links to the neighbouring pages, the same URLs as the body\'s `next` and `prev`: `rel="next"` '
            'and `rel="prev"` where there is such a page, `rel="first"` always'
        ),
        documentation_only=True,
    )
]
"""The ``response_headers`` of a listing, for its OpenAPI operation."""


def _link_maker(request: Request[Any, Any, Any]) -> Callable[[PageRef], str]:
    """Links from ``request``: its path and every query parameter but the position, encoded once for all links."""
    path = request.url.path
    kept = urlencode([item for item in request.query_params.multi_items() if item[0] not in _POSITION_PARAMETERS])

    def link(ref: PageRef) -> str:
        # A cursor is URL-safe base64: nothing in it needs escaping.
        position = f"page={ref.page}" if ref.page is not None else "" if ref.cursor is None else f"cursor={ref.cursor}"
        query = f"{kept}&{position}" if kept and position else kept or position
        return f"{path}?{query}" if query else path

    return link


def page_response(request: Request[Any, Any, Any], listing: Listing[T]) -> Response[Page[T]]:
    """The page's body, with its ``next``/``prev`` URLs, and the ``Link`` header naming them and the first page."""
    link = _link_maker(request)
    next_url = None if listing.next is None else link(listing.next)
    prev_url = None if listing.prev is None else link(listing.prev)
    body = Page(
        items=listing.items,
        total=listing.total,
        page=listing.page,
        size=listing.size,
        pages=listing.pages,
        total_is_estimate=listing.total_is_estimate,
        next=next_url,
        prev=prev_url,
    )
    links = (("next", next_url), ("prev", prev_url), ("first", link(FIRST_PAGE)))
    return Response(body, headers={"Link": ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links if url)})
