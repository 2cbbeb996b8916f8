"""OpenAPI document settings and helpers for operations Litestar cannot describe from signatures alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import OpenAPIResponse, Operation, SecurityRequirement

from app.core.docs_ui import DOCS_PATH, build_docs_router, render_plugins
from app.core.problems import PROBLEM_MEDIA_TYPE, problem_schema

if TYPE_CHECKING:
    from litestar.openapi.spec import RequestBody

    from app.core.settings import Settings

__all__ = (
    "AUTHENTICATED_ERRORS",
    "BODY_ERRORS",
    "OPTIONAL_BEARER",
    "PUBLIC",
    "RESTRICTED_ERRORS",
    "DocumentedOperation",
    "build_openapi_config",
    "errors",
    "with_request_body",
)


@dataclass
class DocumentedOperation(Operation):
    """An operation that documents a ``400`` only where its handler does (with :func:`errors`).

    Litestar adds a generic ``400`` to every operation with parameters or a body. Here a parameter that fails
    validation is answered ``422`` (a path that does not match, ``404``), never ``400``, so an operation without a body
    never answers that ``400``; its ad hoc schema (``extra`` typed ``null | object | array`` without ``items``) also
    makes openapi-python-client leave that response out of the client it generates, with a warning.
    """

    def __post_init__(self) -> None:
        responses = self.responses or {}
        bad_request = responses.get("400")
        if isinstance(bad_request, OpenAPIResponse) and bad_request.description != ERROR_DESCRIPTIONS[400]:
            del responses["400"]


def with_request_body(request_body: RequestBody) -> type[Operation]:
    """An Operation class whose request body is ``request_body`` (e.g. one body accepted in two media types)."""

    @dataclass
    class OperationWithBody(DocumentedOperation):
        def __post_init__(self) -> None:
            super().__post_init__()
            self.request_body = request_body

    return OperationWithBody


def build_openapi_config(settings: Settings) -> OpenAPIConfig:
    return OpenAPIConfig(
        title=settings.project_name,
        version=settings.version,
        # The router decides where the pages are served; the path is still what the Litestar CLI shows and filters on.
        path=DOCS_PATH,
        render_plugins=render_plugins(),
        openapi_router=build_docs_router(),
    )


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request is malformed (e.g. not valid JSON) or a business rule refused it",
    401: "Missing, invalid or expired bearer token, or wrong credentials (`WWW-Authenticate: Bearer`)",
    403: "Authenticated, but not allowed to do this",
    404: "No such resource, or one the caller may not see",
    409: "Conflicts with the current state (e.g. the email is taken)",
    412: "`If-Match` does not name the resource's current `ETag`: it changed since it was read, and nothing changed",
    413: "The request body is larger than 1 MiB",
    422: "Validation failed; `errors` lists the invalid values",
    429: "Rate limit reached; `Retry-After` and `retry_after` give the seconds to wait",
    503: "The database is unavailable; retry after `Retry-After` (and `retry_after`) seconds",
}

PUBLIC: list[SecurityRequirement] = [{}]
"""Operation-level ``security`` of routes that need no token (the app-wide default requires one)."""
OPTIONAL_BEARER: list[SecurityRequirement] = [{}, {"BearerToken": []}]
"""Routes that answer anyone, and more to a bearer (a bad token is still 401)."""

# Error codes that recur across operations, to unpack into errors() next to the codes particular to each.
BODY_ERRORS = (400, 413, 422)
"""Routes that read a JSON body: malformed, too large, or invalid."""
AUTHENTICATED_ERRORS = (401, 503)
"""Routes that read a bearer token: a bad token, or no database to load its account from."""
RESTRICTED_ERRORS = (*AUTHENTICATED_ERRORS, 403)
"""Authenticated routes for some callers only: superusers, the account's owner, the post's author."""


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """The documented error responses of an operation: problem details, with the members of each status's kind."""
    return {
        code: ResponseSpec(
            data_container=problem_schema(code),
            description=ERROR_DESCRIPTIONS[code],
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for code in sorted(set(codes))
    }
