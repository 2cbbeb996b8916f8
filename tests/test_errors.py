"""How database failures map to problem details: outages 503, bad values 422, conflicts 409, never a 500 with
details."""

from __future__ import annotations

import msgspec
import pytest
from advanced_alchemy.exceptions import DuplicateKeyError, NotFoundError, RepositoryError, wrap_sqlalchemy_exception
from litestar.testing import RequestFactory
from sqlalchemy import exc as sa_exc

from app.core.error_responses import exception_handlers


def _wrapped(error: Exception) -> RepositoryError:
    try:
        with wrap_sqlalchemy_exception(dialect_name="postgresql"):
            raise error
    except RepositoryError as wrapped:
        return wrapped
    raise AssertionError("not wrapped")


class _DriverError(Exception):
    pass


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (
            sa_exc.OperationalError("SELECT 1", {}, _DriverError("connection refused")),
            503,
            "The database is unavailable",
        ),
        (sa_exc.InterfaceError("SELECT 1", {}, _DriverError("closed")), 503, "The database is unavailable"),
        (sa_exc.DataError("INSERT", {}, _DriverError("NUL byte")), 422, "A value in the request cannot be stored"),
        (sa_exc.IntegrityError("INSERT", {}, _DriverError("fk violation")), 409, "conflicts with the current state"),
        (sa_exc.ProgrammingError("SELECT nope", {}, _DriverError("syntax")), 500, "The server failed to answer"),
    ],
)
def test_repository_errors_map_to_statuses(error: Exception, status: int, detail: str) -> None:
    handler = exception_handlers()[RepositoryError]
    response = handler(RequestFactory().get("/"), _wrapped(error))
    body = msgspec.json.decode(response.render(response.content, "application/json"))
    assert (response.status_code, response.media_type, body["status"]) == (status, "application/problem+json", status)
    assert detail in body["detail"]
    assert "SELECT" not in body["detail"]
    assert "INSERT" not in body["detail"]


def test_not_found_and_duplicates() -> None:
    handler = exception_handlers()[RepositoryError]
    assert handler(RequestFactory().get("/"), NotFoundError("gone")).status_code == 404
    duplicate = DuplicateKeyError(detail="A user with this email already exists")
    assert handler(RequestFactory().get("/"), duplicate).status_code == 409
