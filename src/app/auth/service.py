"""Login, refresh-token rotation and logout."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from app.auth.refresh_tokens import RefreshTokenService
from app.auth.schemas import TokenPair
from app.core.errors import AuthenticationFailedError

if TYPE_CHECKING:
    import uuid

    from app.auth.access_tokens import AccessTokenIssuer
    from app.users.service import UserService

__all__ = ("AuthService",)


class AuthService:
    """Issues token pairs. It shares the request's session with the user service and owns each commit."""

    __slots__ = ("access_tokens", "refresh_lifetime", "refresh_tokens", "users")

    def __init__(self, users: UserService, access_tokens: AccessTokenIssuer, refresh_lifetime: timedelta) -> None:
        self.users = users
        self.access_tokens = access_tokens
        self.refresh_lifetime = refresh_lifetime
        self.refresh_tokens = RefreshTokenService(session=users.repository.session)

    def _pair(self, user_id: uuid.UUID, refresh_token: str) -> TokenPair:
        return TokenPair(
            access_token=self.access_tokens.issue(user_id),
            refresh_token=refresh_token,
            expires_in=self.access_tokens.expires_in_seconds,
        )

    def login(self, email: str, password: str) -> TokenPair:
        """Raises AuthenticationFailedError with one message for every kind of refusal."""
        user = self.users.authenticate(email, password)
        refresh_token = self.refresh_tokens.issue(user.id, self.refresh_lifetime)
        self.users.commit()
        return self._pair(user.id, refresh_token)

    def refresh(self, raw_token: str) -> TokenPair:
        """Spend the presented token for a new pair; reuse of a spent token revokes its family (committed)."""
        try:
            rotated = self.refresh_tokens.rotate(raw_token, self.refresh_lifetime)
        except AuthenticationFailedError:
            self.users.commit()
            raise
        if self.users.get_active(rotated.user_id) is None:
            self.users.rollback()
            raise AuthenticationFailedError("Invalid or expired refresh token")
        self.users.commit()
        return self._pair(rotated.user_id, rotated.raw_token)

    def logout(self, raw_token: str) -> None:
        """Revoke the token's family; unknown tokens are ignored so logout stays idempotent."""
        self.refresh_tokens.revoke_family_of(raw_token)
        self.users.commit()
