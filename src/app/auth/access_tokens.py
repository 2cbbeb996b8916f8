"""Short-lived JWT access tokens: HS256 only, with a ``type`` claim so no other token passes as one."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from litestar.security.jwt import Token

if TYPE_CHECKING:
    from app.core.settings import Settings

__all__ = ("ACCESS_TOKEN_TYPE", "ALGORITHM", "REQUIRED_CLAIMS", "AccessToken", "AccessTokenIssuer")

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "jti")
ACCESS_TOKEN_TYPE = "access"  # noqa: S105  (a claim value, not a secret)


@dataclasses.dataclass
class AccessToken(Token):
    """Litestar's token plus a top-level ``type`` claim."""

    type: str = ""


class AccessTokenIssuer:
    """Signs access tokens for a user id with the app's secret key."""

    __slots__ = ("lifetime", "secret")

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.secret_key
        self.lifetime = timedelta(minutes=settings.access_token_expire_minutes)

    def issue(self, user_id: uuid.UUID) -> str:
        now = datetime.now(UTC)
        token = AccessToken(
            sub=str(user_id),
            exp=now + self.lifetime,
            iat=now,
            jti=uuid.uuid4().hex,
            type=ACCESS_TOKEN_TYPE,
        )
        return token.encode(secret=self.secret, algorithm=ALGORITHM)

    @property
    def expires_in_seconds(self) -> int:
        return int(self.lifetime.total_seconds())
