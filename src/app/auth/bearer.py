"""Bearer authentication: Litestar's header-only ``JWTAuth``, reading the caller's account on every request."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

from litestar.security.jwt import JWTAuth

from app.auth.access_tokens import ACCESS_TOKEN_TYPE, ALGORITHM, REQUIRED_CLAIMS, AccessToken
from app.auth.sessions import LIVE_SESSION_OF_ACCOUNT
from app.core.docs_ui import DOCS_PATH
from app.users.repository import ACTIVE_ACCOUNT_BY_ID, UserRepository
from app.users.schemas import UserResponse

if TYPE_CHECKING:
    from advanced_alchemy.config import SQLAlchemySyncConfig
    from litestar.connection import ASGIConnection

    from app.core.settings import Settings

__all__ = ("BearerAuthenticator", "build_jwt_auth")

# /metrics is not public, but its credential is its own (app.ops.guards): a bearer token there is no JWT.
PUBLIC_PATHS = [f"^{DOCS_PATH}", "^/health", "^/metrics"]

_ACCOUNT_IN_LIVE_SESSION = ACTIVE_ACCOUNT_BY_ID.where(LIVE_SESSION_OF_ACCOUNT)


class BearerAuthenticator:
    """Turns a verified access token into the active account it speaks for: the request's caller.

    ``read_config`` gives sessions on the autocommit engine (:func:`app.core.database.build_read_config`): the
    lookup is one read, the users domain's own (:meth:`UserRepository.read_account_by`), which also checks that the
    token's session is live, so an ended session's access tokens stop at once.

    Each handler thread keeps one session and repository for the lookup and closes the session after every read,
    which returns its connection to the pool and leaves the session empty and reusable. The lookup runs on every
    authenticated request, and building a session and a repository for it each time cost a fifth of the lookup.
    """

    def __init__(self, settings: Settings, read_config: SQLAlchemySyncConfig) -> None:
        self.secret_key = settings.secret_key
        self.sessions = read_config.create_session_maker()
        self._per_thread = threading.local()

    def _accounts(self) -> UserRepository:
        accounts: UserRepository | None = getattr(self._per_thread, "accounts", None)
        if accounts is None:
            accounts = self._per_thread.accounts = UserRepository(session=self.sessions())
        return accounts

    def account_for_token(self, token: AccessToken) -> UserResponse | None:
        """None for a refresh or foreign token, an account that is gone or deactivated, or a session that ended."""
        if token.type != ACCESS_TOKEN_TYPE:
            return None
        try:
            parameters = {"user_id": uuid.UUID(token.sub), "session_id": uuid.UUID(token.sid)}
        except ValueError:
            return None
        accounts = self._accounts()
        try:
            return accounts.read_account_by(_ACCOUNT_IN_LIVE_SESSION, parameters)
        finally:
            accounts.session.close()

    def decode(self, authorization: str) -> AccessToken:
        """Verify an ``Authorization: Bearer`` header value the way the middleware does.

        Raises:
            NotAuthorizedException: the token is malformed, forged, expired or lacks a required claim.
        """
        return AccessToken.decode(
            authorization.partition(" ")[-1], self.secret_key, ALGORITHM, require_claims=REQUIRED_CLAIMS
        )


def build_jwt_auth(settings: Settings, authenticator: BearerAuthenticator) -> JWTAuth[UserResponse, AccessToken]:
    """The auth config; routes opt out with ``exclude_from_auth=True`` or by living under a public path."""

    def retrieve_user(token: AccessToken, _: ASGIConnection[Any, Any, Any, Any]) -> UserResponse | None:
        return authenticator.account_for_token(token)

    return JWTAuth[UserResponse, AccessToken](
        token_secret=settings.secret_key,
        algorithm=ALGORITHM,
        token_cls=AccessToken,
        retrieve_user_handler=retrieve_user,
        require_claims=REQUIRED_CLAIMS,
        exclude=PUBLIC_PATHS,
        description="An access token from POST /api/v1/auth/login, sent as `Authorization: Bearer <token>`.",
    )
