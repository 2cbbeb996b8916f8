"""Dependency providers of the auth domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy.orm import Session

from app.auth.access_tokens import AccessTokenIssuer
from app.auth.middleware import authenticate_bearer
from app.auth.service import AuthService
from app.core.settings import Settings
from app.users.models import User
from app.users.service import UserService

__all__ = ("provide_auth_service", "provide_current_user", "provide_optional_user")


def provide_auth_service(
    users_service: NamedDependency[UserService],
    access_tokens: NamedDependency[AccessTokenIssuer],
    settings: NamedDependency[Settings],
) -> AuthService:
    return AuthService(users_service, access_tokens, timedelta(days=settings.refresh_token_expire_days))


def provide_current_user(request: Request[User, Any, Any]) -> User:
    """The authenticated user, loaded by the auth middleware with the request's session."""
    return request.user


def provide_optional_user(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    db_session: NamedDependency[Session],
) -> User | None:
    """On public routes: the caller if a bearer token came with the request, else None; a bad token is 401."""
    authorization = request.headers.get("authorization")
    if not authorization:
        return None
    return authenticate_bearer(authorization, settings, db_session)
