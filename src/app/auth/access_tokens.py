"""Short-lived JWT access tokens: HS256 only, with a ``type`` claim so no other token passes as one, and a ``sid``
claim naming the session they were issued in."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import TYPE_CHECKING

import jwt
from litestar.security.jwt import Token

from app.auth.schemas import TokenPair

if TYPE_CHECKING:
    from app.core.settings import Settings

__all__ = ("ACCESS_TOKEN_TYPE", "ALGORITHM", "REQUIRED_CLAIMS", "AccessToken", "AccessTokenIssuer")

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "jti", "sid")
ACCESS_TOKEN_TYPE = "access"  # noqa: S105  (a claim value, not a secret)


@dataclasses.dataclass
class AccessToken(Token):
    """Litestar's token plus two top-level claims: ``type`` and the session id ``sid``."""

    type: str = ""
    sid: str = ""


class AccessTokenIssuer:
    """Signs access tokens for a user id with the app's secret key."""

    __slots__ = ("lifetime_seconds", "secret")

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.secret_key
        self.lifetime_seconds = settings.access_token_expire_minutes * 60

    def issue(self, user_id: uuid.UUID, session_id: uuid.UUID) -> str:
        """The claims ``AccessToken`` decodes, signed by PyJWT directly: ``Token.encode`` deep-copies the token
        through ``dataclasses.asdict`` first, which cost as much as the signature."""
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "exp": now + self.lifetime_seconds,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "type": ACCESS_TOKEN_TYPE,
            "sid": str(session_id),
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def pair(self, user_id: uuid.UUID, session_id: uuid.UUID, refresh_token: str) -> TokenPair:
        """A new access token for ``user_id`` in session ``session_id`` beside that session's ``refresh_token``, as
        the token endpoints answer."""
        return TokenPair(
            access_token=self.issue(user_id, session_id),
            refresh_token=refresh_token,
            expires_in=self.lifetime_seconds,
        )
