"""Dependency providers of the users domain (runtime imports: Litestar reads these signatures).

Each service provider closes over the app-wide collaborators and depends on the request's session alone (and the
request itself, which is no dependency): Litestar resolves a level of several dependencies in an anyio task group,
one task each, on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from sqlalchemy.orm import Session

from app.core.origin import RequestOrigin, request_origin
from app.users.profiles import ProfileService
from app.users.service import UserService

__all__ = ("provide_profiles_service", "users_service_provider")


def users_service_provider(
    build_users_service: Callable[[Session, RequestOrigin], UserService], trusted_proxy_hops: int
) -> Provide:
    """The request's ``UserService``, built by the app's assembly (which gives it its :class:`AccountSecurity`); the
    security events it records carry where the request came from."""

    def provide_users_service(db_session: NamedDependency[Session], request: Request[Any, Any, Any]) -> UserService:
        return build_users_service(db_session, request_origin(request, trusted_proxy_hops))

    return Provide(provide_users_service, sync_to_thread=False)


def provide_profiles_service(db_session: NamedDependency[Session]) -> ProfileService:
    return ProfileService(session=db_session)
