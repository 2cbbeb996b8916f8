"""Dependency providers of the auth domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from sqlalchemy.orm import Session

from app.auth.access_tokens import AccessToken, AccessTokenIssuer
from app.auth.bearer import BearerAuthenticator
from app.auth.login import LoginService
from app.auth.service import AuthService
from app.auth.two_factor import TwoFactorService
from app.core.origin import request_origin
from app.core.security import PasswordHashing, SecretSealing
from app.core.settings import Settings
from app.core.task_queue import TaskQueue
from app.users.schemas import UserResponse
from app.users.service import UserService

__all__ = (
    "OPTIONAL_CALLER",
    "auth_service_provider",
    "login_service_provider",
    "provide_caller",
    "provide_current_session_id",
    "provide_optional_caller",
    "two_factor_service_provider",
)


def auth_service_provider(access_tokens: AccessTokenIssuer, refresh_lifetime: timedelta, settings: Settings) -> Provide:
    """The request's ``AuthService`` on top of its ``UserService``, its one dependency."""

    def provide_auth_service(users_service: NamedDependency[UserService]) -> AuthService:
        return AuthService(users_service, access_tokens, refresh_lifetime, settings)

    return Provide(provide_auth_service, sync_to_thread=False)


def two_factor_service_provider(sealing: SecretSealing, settings: Settings) -> Provide:
    """The request's ``TwoFactorService`` on top of its ``UserService``, its one dependency."""

    def provide_two_factor_service(users_service: NamedDependency[UserService]) -> TwoFactorService:
        return TwoFactorService(users_service, sealing, settings)

    return Provide(provide_two_factor_service, sync_to_thread=False)


def login_service_provider(
    settings: Settings,
    *,
    passwords: PasswordHashing,
    sealing: SecretSealing,
    access_tokens: AccessTokenIssuer,
    refresh_lifetime: timedelta,
    task_queue: TaskQueue,
) -> Provide:
    """The request's ``LoginService``; like every service provider, its one dependency is the session."""

    def provide_login_service(db_session: NamedDependency[Session], request: Request[Any, Any, Any]) -> LoginService:
        origin = request_origin(request, settings.trusted_proxy_hops)
        return LoginService(
            db_session,
            passwords,
            access_tokens,
            refresh_lifetime,
            settings,
            sealing=sealing,
            origin=origin,
            task_queue=task_queue,
        )

    return Provide(provide_login_service, sync_to_thread=False)


def provide_caller(request: Request[UserResponse, Any, Any]) -> UserResponse:
    """The signed-in account, as bearer authentication read it for this request (no further query)."""
    return request.user


def provide_current_session_id(request: Request[UserResponse, AccessToken, Any]) -> uuid.UUID:
    """The session the request's access token was issued in (bearer authentication checked that it is live)."""
    return uuid.UUID(request.auth.sid)


async def provide_optional_caller(
    request: Request[Any, Any, Any], bearer_authenticator: NamedDependency[BearerAuthenticator]
) -> UserResponse | None:
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


OPTIONAL_CALLER = {"caller": Provide(provide_optional_caller)}
"""The ``dependencies`` of a public route that answers more to a signed-in caller."""
