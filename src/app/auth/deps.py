"""Dependency providers of the auth domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from sqlalchemy.orm import Session

from app.auth.access_tokens import AccessTokenIssuer
from app.auth.middleware import BearerAuthenticator
from app.auth.service import AuthService
from app.users.identity import AuthenticatedUser
from app.users.models import User
from app.users.service import UserService, find_active_user

__all__ = ("auth_service_provider", "provide_caller", "provide_current_user", "provide_optional_caller")


def auth_service_provider(access_tokens: AccessTokenIssuer, refresh_lifetime: timedelta) -> Provide:
    """The request's ``AuthService`` on top of its ``UserService``, its one dependency."""

    def provide_auth_service(users_service: NamedDependency[UserService]) -> AuthService:
        return AuthService(users_service, access_tokens, refresh_lifetime)

    return Provide(provide_auth_service, sync_to_thread=False)


def provide_caller(request: Request[AuthenticatedUser, Any, Any]) -> AuthenticatedUser:
    """The authenticated caller's account, as the auth middleware read it (no further query)."""
    return request.user


def provide_current_user(request: Request[AuthenticatedUser, Any, Any], db_session: NamedDependency[Session]) -> User:
    """The caller's ORM row in the request's session, for routes that change it (runs in a worker thread).

    Raises:
        NotAuthorizedException: the account was deleted or deactivated since the request was authenticated.
    """
    user = find_active_user(db_session, request.user.id)
    if user is None:
        raise NotAuthorizedException
    return user


async def provide_optional_caller(
    request: Request[Any, Any, Any], bearer_authenticator: NamedDependency[BearerAuthenticator]
) -> AuthenticatedUser | None:
    """On public routes: the caller if a bearer token came with the request, else None; a bad token is 401.

    A coroutine, so an anonymous request (the usual reader) costs no worker-thread hop.
    """
    authorization = request.headers.get("authorization")
    if not authorization:
        return None
    token = bearer_authenticator.decode(authorization)
    account = await sync_to_thread(bearer_authenticator.account_for_token, token)
    if account is None:
        raise NotAuthorizedException
    return account
