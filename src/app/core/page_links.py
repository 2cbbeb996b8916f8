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


def _url(request: Request[Any, Any, Any], ref: PageRef) -> str:
    kept = [(name, value) for name, value in request.query_params.multi_items() if name not in _POSITION_PARAMETERS]
    if ref.page is not None:
        kept.append(("page", str(ref.page)))
    if ref.cursor is not None:
        kept.append(("cursor", ref.cursor))
    return f"{request.url.path}?{urlencode(kept)}" if kept else request.url.path


def page_response(request: Request[Any, Any, Any], listing: Listing[T]) -> Response[Page[T]]:
    """The page's body, with its ``next``/``prev`` URLs, and the ``Link`` header naming them and the first page."""
    next_url = None if listing.next is None else _url(request, listing.next)
    prev_url = None if listing.prev is None else _url(request, listing.prev)
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
    links = (("next", next_url), ("prev", prev_url), ("first", _url(request, FIRST_PAGE)))
    return Response(body, headers={"Link": ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links if url)})
