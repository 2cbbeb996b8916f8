"""The ownership guard of account routes (the role guard, ``requires_superuser``, is core's).

It only reads the authenticated caller, so it is a coroutine: a plain function guard costs a worker-thread hop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.exceptions import PermissionDeniedException

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers import BaseRouteHandler

    from app.core.caller import Caller

__all__ = ("requires_self_or_superuser",)


async def requires_self_or_superuser(connection: ASGIConnection[Any, Caller, Any, Any], _: BaseRouteHandler) -> None:
    """The ``user_id`` path parameter must be the caller's own id, unless the caller is a superuser."""
    caller = connection.user
    if not caller.is_superuser and str(connection.path_params.get("user_id")) != str(caller.id):
        raise PermissionDeniedException("You may only access your own account")
