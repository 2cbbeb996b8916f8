"""Problem details (RFC 9457): the body of every error response, and the kinds of problem it names.

A plain HTTP status is problem type ``about:blank``, titled with the status's reason phrase; the kinds that carry
members of their own have types of their own (the README lists them). ``detail`` explains the occurrence and
``instance`` is the path it happened on; ``request_id`` is the response's ``X-Request-ID``, the key to its log lines.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal

import msgspec

__all__ = (
    "ABOUT_BLANK",
    "PROBLEM_MEDIA_TYPE",
    "REQUEST_IN_PROGRESS",
    "TEMPORARILY_UNAVAILABLE",
    "TOO_MANY_REQUESTS",
    "VALIDATION_FAILED",
    "ConflictProblem",
    "FieldError",
    "FieldSource",
    "Problem",
    "ProblemType",
    "RetryLaterProblem",
    "ValidationProblem",
    "plain_status",
    "problem_schema",
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
ABOUT_BLANK = "about:blank"


class ProblemType(msgspec.Struct, frozen=True):
    """A kind of problem: its identifying URI and the title every occurrence of it carries."""

    uri: str
    title: str


VALIDATION_FAILED = ProblemType("urn:inkwell:problem:validation-failed", "The request has invalid values")
TOO_MANY_REQUESTS = ProblemType("urn:inkwell:problem:too-many-requests", "Too many requests")
TEMPORARILY_UNAVAILABLE = ProblemType("urn:inkwell:problem:temporarily-unavailable", "Temporarily unavailable")
REQUEST_IN_PROGRESS = ProblemType("urn:inkwell:problem:request-in-progress", "The same request is in progress")


def plain_status(status: int) -> ProblemType:
    """The problem of a plain HTTP status: nothing more specific than the status itself (RFC 9457, 4.2.1)."""
    return ProblemType(ABOUT_BLANK, HTTPStatus(status).phrase)


FieldSource = Literal["body", "query", "path", "header", "cookie"]


class FieldError(msgspec.Struct, frozen=True):
    """One invalid value."""

    field: Annotated[
        str,
        msgspec.Meta(
            description="the parameter's name, or the member's path in the body (`title`; `a.b` and `a[0]` below a "
            "member; empty for the body as a whole)"
        ),
    ]
    source: Annotated[FieldSource, msgspec.Meta(description="where the value was sent")]
    message: Annotated[str, msgspec.Meta(description="what is wrong with it")]


class Problem(msgspec.Struct, kw_only=True):
    """An error response: problem details (RFC 9457)."""

    type: Annotated[
        str, msgspec.Meta(description="the kind of problem: `about:blank` for a plain HTTP status, else a URN")
    ]
    title: Annotated[str, msgspec.Meta(description="the kind of problem, in words; the same for every occurrence")]
    status: Annotated[int, msgspec.Meta(description="the HTTP status")]
    detail: Annotated[str, msgspec.Meta(description="what went wrong this time")]
    instance: Annotated[str, msgspec.Meta(description="the request's path")]
    request_id: Annotated[
        str, msgspec.Meta(description="the response's `X-Request-ID`, which the server's log lines carry")
    ]


class ValidationProblem(Problem, kw_only=True):
    """A ``422``: the request's values do not meet the schema."""

    errors: Annotated[list[FieldError], msgspec.Meta(description="each invalid value")]


class RetryLaterProblem(Problem, kw_only=True):
    """A ``429`` or ``503``: the request may succeed later."""

    retry_after: Annotated[
        int, msgspec.Meta(ge=1, description="seconds to wait before trying again, as in the `Retry-After` header")
    ]


class ConflictProblem(Problem, kw_only=True):
    """A ``409``: the request clashes with the data as it is, or (``request-in-progress``) with the same request,
    sent earlier with the same ``Idempotency-Key`` and not answered yet."""

    retry_after: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1,
                description="for `request-in-progress` only: seconds to wait before sending it again, as in "
                "`Retry-After`",
            ),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET


_SCHEMAS: dict[int, type[Problem]] = {
    409: ConflictProblem,
    422: ValidationProblem,
    429: RetryLaterProblem,
    503: RetryLaterProblem,
}


def problem_schema(status: int) -> type[Problem]:
    """The body every error response of ``status`` has."""
    return _SCHEMAS.get(status, Problem)
