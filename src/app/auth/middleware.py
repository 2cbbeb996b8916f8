"""Bearer authentication: Litestar's header-only ``JWTAuth``, checking the user row on every request."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar.security.jwt import JWTAuth

from app.auth.access_tokens import ACCESS_TOKEN_TYPE, ALGORITHM, AccessToken
from app.users.service import UserService

if TYPE_CHECKING:
    from advanced_alchemy.extensions.litestar import SQLAlchemySyncConfig
    from litestar.connection import ASGIConnection

    from app.core.security import PasswordHashing
    from app.core.settings import Settings
    from app.users.models import User

__all__ = ("build_jwt_auth",)

PUBLIC_PATHS = ["^/schema", "^/health"]


def build_jwt_auth(
    settings: Settings, db_config: SQLAlchemySyncConfig, passwords: PasswordHashing
) -> JWTAuth[User, AccessToken]:
    """The auth config; routes opt out with ``exclude_from_auth=True`` or by living under a public path."""

    def retrieve_user(token: AccessToken, connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
        # A refresh or foreign token, a deleted or a deactivated user: all are "no user", hence 401.
        if token.type != ACCESS_TOKEN_TYPE:
            return None
        try:
            user_id = uuid.UUID(token.sub)
        except ValueError:
            return None
        session = db_config.provide_session(connection.app.state, connection.scope)
        return UserService(session=session, passwords=passwords, settings=settings).get_active(user_id)

    return JWTAuth["User", AccessToken](
        token_secret=settings.secret_key,
        algorithm=ALGORITHM,
        token_cls=AccessToken,
        retrieve_user_handler=retrieve_user,
        require_claims=["exp", "iat", "jti"],
        exclude=PUBLIC_PATHS,
        description="An access token from POST /api/v1/auth/login, sent as `Authorization: Bearer <token>`.",
    )
