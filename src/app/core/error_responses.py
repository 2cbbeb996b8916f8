"""The API's answer to every failure, as a JSON error body: the service errors of ``app.core.errors`` with their
status, validation and database failures judged by what went wrong, anything else a 500 that shows no details."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from advanced_alchemy.exceptions import DuplicateKeyError, NotFoundError, RepositoryError
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.exceptions.responses import create_exception_response
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

from app.core.errors import ServiceError, TooManyRequestsError

if TYPE_CHECKING:
    from litestar import Request, Response
    from litestar.types import ExceptionHandlersMap

__all__ = ("exception_handlers",)

logger = logging.getLogger(__name__)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
DUPLICATE_RECORD = "A record matching the supplied data already exists."
CONFLICTING_DATA = "The request conflicts with the current state of the data."
DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."


def _json_error(request: Request[Any, Any, Any], status_code: int, detail: str, **kwargs: Any) -> Response[Any]:
    return create_exception_response(request, HTTPException(status_code=status_code, detail=detail, **kwargs))


def _is_database_outage(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
            return True
        exc = exc.__cause__
    return False


def _service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    headers: dict[str, str] | None
    if isinstance(exc, TooManyRequestsError):
        headers = {"Retry-After": str(exc.retry_after)}
    else:
        headers = BEARER_CHALLENGE if exc.status_code == HTTP_401_UNAUTHORIZED else None
    return _json_error(request, exc.status_code, exc.detail, headers=headers)


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    # Field-level failures are 422 as the contract promises; a body that is not even parseable stays 400.
    status_code = HTTP_422_UNPROCESSABLE_ENTITY if exc.extra else HTTP_400_BAD_REQUEST
    return _json_error(request, status_code, exc.detail, extra=exc.extra)


def _not_authorized(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    # Bearer unless the refusal names its own challenge (``/metrics`` also takes Basic).
    return _json_error(request, HTTP_401_UNAUTHORIZED, exc.detail, headers={**BEARER_CHALLENGE, **(exc.headers or {})})


def _database_error_response(
    request: Request[Any, Any, Any], error: sa_exc.SQLAlchemyError | None, fallback: Exception
) -> Response[Any]:
    """The response for a failed statement, judged by the driver-level error beneath any wrapping."""
    if _is_database_outage(error):
        logger.error("database unavailable: %s", error)
        return _json_error(request, HTTP_503_SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE, headers={"Retry-After": "5"})
    if isinstance(error, sa_exc.DataError):
        # Validation should have refused the value; if one still reaches the database it is bad input, not a 500.
        logger.warning("database refused a value: %s", error.orig)
        return _json_error(request, HTTP_422_UNPROCESSABLE_ENTITY, "A value in the request cannot be stored")
    if isinstance(error, sa_exc.IntegrityError):
        return _json_error(request, HTTP_409_CONFLICT, CONFLICTING_DATA)
    logger.error("database error", exc_info=fallback)
    return _json_error(request, HTTP_500_INTERNAL_SERVER_ERROR, "Internal Server Error")


def _repository_error(request: Request[Any, Any, Any], exc: RepositoryError) -> Response[Any]:
    if isinstance(exc, NotFoundError):
        return _json_error(request, HTTP_404_NOT_FOUND, "The requested resource was not found")
    if isinstance(exc, DuplicateKeyError):
        # Its detail is one of our own messages (error_messages), never the database's text.
        return _json_error(request, HTTP_409_CONFLICT, exc.detail or DUPLICATE_RECORD)
    cause = exc.__cause__ if isinstance(exc.__cause__, sa_exc.SQLAlchemyError) else None
    return _database_error_response(request, cause, exc)


def _sqlalchemy_error(request: Request[Any, Any, Any], exc: sa_exc.SQLAlchemyError) -> Response[Any]:
    return _database_error_response(request, exc, exc)


def _too_deeply_nested(request: Request[Any, Any, Any], _: RecursionError) -> Response[Any]:
    # msgspec's JSON decoder raises RecursionError on absurdly nested input; that is the client's fault.
    return _json_error(request, HTTP_400_BAD_REQUEST, "The request body is nested too deeply")


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException):
        return create_exception_response(request, exc)
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json_error(request, HTTP_500_INTERNAL_SERVER_ERROR, "Internal Server Error")


def exception_handlers() -> ExceptionHandlersMap:
    """The app's handlers; they replace advanced-alchemy's default, which reports database outages as 409."""
    return {
        ServiceError: _service_error,
        ValidationException: _validation_error,
        NotAuthorizedException: _not_authorized,
        RepositoryError: _repository_error,
        sa_exc.SQLAlchemyError: _sqlalchemy_error,
        RecursionError: _too_deeply_nested,
        Exception: _unexpected_error,
    }
