"""Conditional requests over HTTP: for single resources, a strong ``ETag`` that is a digest of the body and
``304 Not Modified`` when the client's ``If-None-Match`` names it (RFC 9110, sections 8.8.3 and 13.1.2); for their
changes, the ``If-Match`` header the services check (``app.core.entity_tags``).

The tag is computed from the bytes sent, so it changes exactly when the representation does (an author's new name
in a post included), whatever changed it. Handlers opt in with ``response_class=TaggedResponse``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.enums import MediaType
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter
from litestar.response.base import ASGIResponse
from litestar.serialization import get_serializer
from litestar.status_codes import HTTP_304_NOT_MODIFIED
from litestar.utils.helpers import get_enum_string_value

from app.core.entity_tags import entity_tag, matches_any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar import Litestar, Request
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures import Cookie
    from litestar.types import TypeEncodersMap

__all__ = ("NOT_MODIFIED", "TAG_HEADERS", "IfMatch", "TaggedResponse")

T = TypeVar("T")

# A tagged representation may be stored but must be revalidated, and only by the client it was sent to.
CACHE_CONTROL = "private, no-cache"


TAG_HEADERS = [
    ResponseHeader(
        name="ETag",
        description="strong entity tag of this representation; send it back in If-None-Match (GET) or If-Match",
        documentation_only=True,
    ),
    ResponseHeader(name="Cache-Control", value=CACHE_CONTROL, documentation_only=True),
]
"""The ``response_headers`` of a tagged GET, for its OpenAPI operation."""

NOT_MODIFIED = {
    HTTP_304_NOT_MODIFIED: ResponseSpec(
        data_container=None,
        description="`If-None-Match` named the current `ETag`: the representation is unchanged (no body)",
        generate_examples=False,
    )
}
"""The ``304`` of a tagged GET, for its ``responses``."""


IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description="the ETag the change is based on: a stale one is 412 and nothing changes",
    ),
]
"""The ``If-Match`` header of a change, for its handler's parameters."""


class TaggedResponse(Response[T]):
    """A response whose ``ETag`` is the digest of its body, answered ``304`` with no body when the request's
    ``If-None-Match`` names it."""

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        encoders = {**(type_encoders or {}), **(self.response_type_encoders or {})}
        rendered_as = get_enum_string_value(self.media_type or media_type or MediaType.JSON)
        # Rendered once: the base class sends bytes as they are.
        body = self.render(self.content, rendered_as, get_serializer(encoders))
        self.content = cast("T", body)
        tag = entity_tag(body)
        self.headers.update({"ETag": tag, "Cache-Control": CACHE_CONTROL})
        if matches_any(request.headers.get("if-none-match"), tag):
            return ASGIResponse(
                background=self.background or background,
                body=b"",
                encoded_headers=encoded_headers,
                headers={**(headers or {}), **self.headers},
                status_code=HTTP_304_NOT_MODIFIED,
            )
        return super().to_asgi_response(
            app,
            request,
            background=background,
            cookies=cookies,
            encoded_headers=encoded_headers,
            headers=headers,
            is_head_response=is_head_response,
            media_type=media_type,
            status_code=status_code,
            type_encoders=type_encoders,
        )
