"""The errors a service raises when a business rule refuses an operation: plain Python, whoever the caller is (the
HTTP API, a CLI, a worker). ``app.core.error_responses`` turns them into the API's problem details.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

# advanced-alchemy's own: its repositories raise it for a missing row and services raise the same class, so a missing
# resource gets one answer whichever of them noticed.
from advanced_alchemy.exceptions import NotFoundError

if TYPE_CHECKING:
    from app.core.problems import FieldSource

__all__ = (
    "AuthenticationFailedError",
    "BadRequestError",
    "ConflictError",
    "ForbiddenError",
    "InProgressError",
    "InvalidValueError",
    "NotFoundError",
    "PreconditionFailedError",
    "ServiceError",
    "TooManyRequestsError",
)


class ServiceError(Exception):
    """A business rule refused the operation; ``detail`` is safe to show the client.

    ``status_code`` is the HTTP status the API answers with.
    """

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequestError(ServiceError):
    """The request asks for something the rules never allow."""

    status_code = 400


class AuthenticationFailedError(ServiceError):
    """The credentials or token do not identify an account."""

    status_code = 401


class ForbiddenError(ServiceError):
    """The caller is known but may not do this."""

    status_code = 403


class ConflictError(ServiceError):
    """The operation clashes with the current state of the data."""

    status_code = 409


class InvalidValueError(ServiceError):
    """A value the request sent is well-formed but cannot be used as sent: ``field``, sent in ``source`` (``body``,
    ``query``, ``path`` or ``header``)."""

    status_code = 422

    def __init__(self, detail: str, *, field: str, source: FieldSource) -> None:
        super().__init__(detail)
        self.field = field
        self.source = source


class InProgressError(ConflictError):
    """The same request is being carried out already: its answer may be there after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PreconditionFailedError(ServiceError):
    """The request's precondition (``If-Match``) does not hold: the resource changed since the client read it."""

    status_code = 412


class TooManyRequestsError(ServiceError):
    """Too many attempts lately: the operation may succeed after ``retry_after`` seconds (at least one)."""

    status_code = 429

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = max(1, math.ceil(retry_after))
