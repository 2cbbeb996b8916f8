"""Role and ownership guards for account routes.

They only read the authenticated user, so they are coroutines: a plain function guard costs a worker-thread hop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.exceptions import PermissionDeniedException

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers import BaseRouteHandler

    from app.users.models import User

__all__ = ("requires_self_or_superuser", "requires_superuser")


async def requires_superuser(connection: ASGIConnection[Any, User, Any, Any], _: BaseRouteHandler) -> None:
    if not connection.user.is_superuser:
        raise PermissionDeniedException("Superuser privileges are required")


async def requires_self_or_superuser(connection: ASGIConnection[Any, User, Any, Any], _: BaseRouteHandler) -> None:
    """The ``user_id`` path parameter must be the caller's own id, unless the caller is a superuser."""
    user = connection.user
    if not user.is_superuser and str(connection.path_params.get("user_id")) != str(user.id):
        raise PermissionDeniedException("You may only access your own account")
