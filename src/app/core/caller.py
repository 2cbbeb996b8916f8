"""The signed-in account, as the rules of every domain see it, and the role guard they share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from litestar.exceptions import PermissionDeniedException

if TYPE_CHECKING:
    import uuid

    from litestar.connection import ASGIConnection
    from litestar.handlers import BaseRouteHandler

__all__ = ("Caller", "requires_superuser")


class Caller(Protocol):
    """Whoever makes the request: all that ownership and role rules look at. Bearer authentication attaches the
    caller's account to every signed-in request."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def is_superuser(self) -> bool: ...


# A coroutine: it only reads the authenticated caller, and a plain function guard costs a worker-thread hop.
async def requires_superuser(connection: ASGIConnection[Any, Caller, Any, Any], _: BaseRouteHandler) -> None:
    if not connection.user.is_superuser:
        raise PermissionDeniedException("Superuser privileges are required")
