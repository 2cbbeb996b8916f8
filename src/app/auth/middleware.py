"""Bearer authentication: Litestar's header-only ``JWTAuth``, checking the user row on every request."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import JWTAuth

from app.auth.access_tokens import ACCESS_TOKEN_TYPE, ALGORITHM, REQUIRED_CLAIMS, AccessToken
from app.users.service import find_active_user

if TYPE_CHECKING:
    from advanced_alchemy.extensions.litestar import SQLAlchemySyncConfig
    from litestar.connection import ASGIConnection
    from sqlalchemy.orm import Session

    from app.core.settings import Settings
    from app.users.models import User

__all__ = ("authenticate_bearer", "build_jwt_auth", "user_for_token")

PUBLIC_PATHS = ["^/schema", "^/health", "^/metrics"]


def user_for_token(token: AccessToken, session: Session) -> User | None:
    """The active user an access token speaks for; a refresh or foreign token, or a gone user, is None."""
    if token.type != ACCESS_TOKEN_TYPE:
        return None
    try:
        user_id = uuid.UUID(token.sub)
    except ValueError:
        return None
    user = find_active_user(session, user_id)
    # End the read transaction now: the request may wait for a worker thread before its handler runs, and a
    # connection held through that wait starves the pool under load. The user stays loaded (no expiry on commit).
    session.commit()
    return user


def authenticate_bearer(authorization: str, settings: Settings, session: Session) -> User:
    """Check an ``Authorization`` header value the way the middleware does, for routes that are public.

    Raises:
        NotAuthorizedException: the token is invalid, expired, of another type, or its user is gone.
    """
    token = AccessToken.decode(
        authorization.partition(" ")[-1], settings.secret_key, ALGORITHM, require_claims=REQUIRED_CLAIMS
    )
    user = user_for_token(token, session)
    if user is None:
        raise NotAuthorizedException
    return user


def build_jwt_auth(settings: Settings, db_config: SQLAlchemySyncConfig) -> JWTAuth[User, AccessToken]:
    """The auth config; routes opt out with ``exclude_from_auth=True`` or by living under a public path."""

    def retrieve_user(token: AccessToken, connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
        return user_for_token(token, db_config.provide_session(connection.app.state, connection.scope))

    return JWTAuth["User", AccessToken](
        token_secret=settings.secret_key,
        algorithm=ALGORITHM,
        token_cls=AccessToken,
        retrieve_user_handler=retrieve_user,
        require_claims=REQUIRED_CLAIMS,
        exclude=PUBLIC_PATHS,
        description="An access token from POST /api/v1/auth/login, sent as `Authorization: Bearer <token>`.",
    )
