"""The API's answer to every failure, as problem details (``app.core.problems``): the service errors of
``app.core.errors`` with their status, validation and database failures judged by what went wrong, Litestar's own
refusals (routing, authentication, body limit) with theirs, anything else a 500 that shows no details."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from advanced_alchemy.exceptions import DuplicateKeyError, NotFoundError, RepositoryError
from litestar import Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy import exc as sa_exc

from app.core.errors import InProgressError, InvalidValueError, ServiceError, TooManyRequestsError
from app.core.problems import (
    PROBLEM_MEDIA_TYPE,
    REQUEST_IN_PROGRESS,
    TEMPORARILY_UNAVAILABLE,
    TOO_MANY_REQUESTS,
    VALIDATION_FAILED,
    ConflictProblem,
    FieldError,
    Problem,
    ProblemType,
    RetryLaterProblem,
    ValidationProblem,
    plain_status,
)
from app.core.request_context import current_request_id, request_id_for

if TYPE_CHECKING:
    from litestar import Request
    from litestar.types import ExceptionHandler, ExceptionHandlersMap

__all__ = ("ErrorReporter", "exception_handlers")

logger = logging.getLogger(__name__)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
DUPLICATE_RECORD = "A record matching the supplied data already exists."
CONFLICTING_DATA = "The request conflicts with the current state of the data."
DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."
DATABASE_RETRY_SECONDS = 5
UNEXPECTED = "The server failed to answer the request; the request id identifies it in the server's logs."


def _occurrence(request: Request[Any, Any, Any], status: int, kind: ProblemType, detail: str) -> dict[str, Any]:
    """The members every problem has."""
    return {
        "type": kind.uri,
        "title": kind.title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        # Bound by the edge middleware for every request; read from the scope when a handler runs without it.
        "request_id": current_request_id() or request_id_for(request.scope),
    }


def _respond(body: Problem, headers: dict[str, str] | None = None) -> Response[Problem]:
    return Response(body, status_code=body.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _plain(
    request: Request[Any, Any, Any], status: int, detail: str, headers: dict[str, str] | None = None
) -> Response[Problem]:
    return _respond(Problem(**_occurrence(request, status, plain_status(status), detail)), headers)


def _invalid(request: Request[Any, Any, Any], detail: str, errors: list[FieldError]) -> Response[Problem]:
    occurrence = _occurrence(request, HTTP_422_UNPROCESSABLE_ENTITY, VALIDATION_FAILED, detail)
    return _respond(ValidationProblem(**occurrence, errors=errors))


def _retry_later(
    request: Request[Any, Any, Any], status: int, kind: ProblemType, detail: str, seconds: int
) -> Response[Problem]:
    body = RetryLaterProblem(**_occurrence(request, status, kind, detail), retry_after=seconds)
    return _respond(body, {"Retry-After": str(seconds)})


def _field_error(message: Any) -> FieldError:
    """One of Litestar's validation messages (``{key?, source?, message}``), as a field error. A value without a
    declared source is a query parameter, as Litestar reads undeclared parameters."""
    source = message.get("source", "query")
    return FieldError(field=message.get("key", ""), source=getattr(source, "value", source), message=message["message"])


def _is_database_outage(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
            return True
        exc = exc.__cause__
    return False


def _service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Problem]:
    if isinstance(exc, TooManyRequestsError):
        return _retry_later(request, exc.status_code, TOO_MANY_REQUESTS, exc.detail, exc.retry_after)
    if isinstance(exc, InvalidValueError):
        return _invalid(request, exc.detail, [FieldError(field=exc.field, source=exc.source, message=exc.detail)])
    if isinstance(exc, InProgressError):
        occurrence = _occurrence(request, exc.status_code, REQUEST_IN_PROGRESS, exc.detail)
        return _respond(
            ConflictProblem(**occurrence, retry_after=exc.retry_after), {"Retry-After": str(exc.retry_after)}
        )
    headers = BEARER_CHALLENGE if exc.status_code == HTTP_401_UNAUTHORIZED else None
    return _plain(request, exc.status_code, exc.detail, headers)


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    # Field-level failures are 422 as the contract promises; a body that is not even parseable stays 400.
    if not exc.extra:
        return _plain(request, HTTP_400_BAD_REQUEST, exc.detail)
    messages = exc.extra if isinstance(exc.extra, list) else [exc.extra]
    return _invalid(request, exc.detail, [_field_error(message) for message in messages])


def _not_authorized(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Problem]:
    # Bearer unless the refusal names its own challenge (``/metrics`` also takes Basic).
    return _plain(request, HTTP_401_UNAUTHORIZED, exc.detail, {**BEARER_CHALLENGE, **(exc.headers or {})})


def _database_error_response(
    request: Request[Any, Any, Any], error: sa_exc.SQLAlchemyError | None, fallback: Exception
) -> Response[Problem]:
    """The response for a failed statement, judged by the driver-level error beneath any wrapping."""
    if _is_database_outage(error):
        logger.error("database unavailable: %s", error)
        return _retry_later(
            request,
            HTTP_503_SERVICE_UNAVAILABLE,
            TEMPORARILY_UNAVAILABLE,
            DATABASE_UNAVAILABLE,
            DATABASE_RETRY_SECONDS,
        )
    if isinstance(error, sa_exc.DataError):
        # Validation should have refused the value; if one still reaches the database it is bad input, not a 500.
        logger.warning("database refused a value: %s", error.orig)
        return _invalid(request, "A value in the request cannot be stored", [])
    if isinstance(error, sa_exc.IntegrityError):
        return _plain(request, HTTP_409_CONFLICT, CONFLICTING_DATA)
    logger.error("database error", exc_info=fallback)
    return _plain(request, HTTP_500_INTERNAL_SERVER_ERROR, UNEXPECTED)


def _repository_error(request: Request[Any, Any, Any], exc: RepositoryError) -> Response[Problem]:
    if isinstance(exc, NotFoundError):
        return _plain(request, HTTP_404_NOT_FOUND, "The requested resource was not found")
    if isinstance(exc, DuplicateKeyError):
        # Its detail is one of our own messages (error_messages), never the database's text.
        return _plain(request, HTTP_409_CONFLICT, exc.detail or DUPLICATE_RECORD)
    cause = exc.__cause__ if isinstance(exc.__cause__, sa_exc.SQLAlchemyError) else None
    return _database_error_response(request, cause, exc)


def _sqlalchemy_error(request: Request[Any, Any, Any], exc: sa_exc.SQLAlchemyError) -> Response[Problem]:
    return _database_error_response(request, exc, exc)


def _too_deeply_nested(request: Request[Any, Any, Any], _: RecursionError) -> Response[Problem]:
    # msgspec's JSON decoder raises RecursionError on absurdly nested input; that is the client's fault.
    return _plain(request, HTTP_400_BAD_REQUEST, "The request body is nested too deeply")


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    # Litestar's own refusals (no route 404, 405 with Allow, 403 from a guard, 413 over the body limit, malformed
    # JSON 400) keep their status, message and headers; its 5xx and everything else show nothing.
    if isinstance(exc, HTTPException) and exc.status_code < HTTP_500_INTERNAL_SERVER_ERROR:
        return _plain(request, exc.status_code, exc.detail, exc.headers)
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _plain(request, HTTP_500_INTERNAL_SERVER_ERROR, UNEXPECTED)


# What the app does with an error nothing handled besides answering 500: the error and tags (method, route).
ErrorReporter = Callable[[BaseException, dict[str, str]], None]


def _reporting(handler: ExceptionHandler[Any], report: ErrorReporter) -> ExceptionHandler[Any]:
    def handle(request: Request[Any, Any, Any], exc: Any) -> Response[Any]:
        response = handler(request, exc)
        if response.status_code == HTTP_500_INTERNAL_SERVER_ERROR:
            report(exc, {"method": request.method, "route": request.scope.get("path_template", request.url.path)})
        return response

    return handle


def exception_handlers(report_unexpected: ErrorReporter | None = None) -> ExceptionHandlersMap:
    """The app's handlers; they replace advanced-alchemy's default, which reports database outages as 409.

    ``report_unexpected`` also receives every error answered with a 500.
    """
    handlers: ExceptionHandlersMap = {
        ServiceError: _service_error,
        ValidationException: _validation_error,
        NotAuthorizedException: _not_authorized,
        RepositoryError: _repository_error,
        sa_exc.SQLAlchemyError: _sqlalchemy_error,
        RecursionError: _too_deeply_nested,
        Exception: _unexpected_error,
    }
    if report_unexpected is None:
        return handlers
    return {kind: _reporting(handler, report_unexpected) for kind, handler in handlers.items()}
