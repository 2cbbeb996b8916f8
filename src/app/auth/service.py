"""Refresh-token rotation, logout, email verification and password reset (login: ``app.auth.login``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.auth.account_security import TokenSecurity
from app.auth.models import TokenPurpose
from app.auth.one_time_tokens import INVALID_ONE_TIME_TOKEN
from app.auth.refresh_tokens import INVALID_REFRESH_TOKEN
from app.core.errors import AuthenticationFailedError, BadRequestError, ConflictError
from app.users.service import normalise_email

if TYPE_CHECKING:
    import uuid
    from datetime import timedelta

    from app.auth.access_tokens import AccessTokenIssuer
    from app.auth.schemas import TokenPair
    from app.core.settings import Settings
    from app.users.models import User
    from app.users.service import UserService

__all__ = ("AuthService",)


class AuthService:
    """Issues token pairs and spends mailed links. It shares the request's session (and outbox) with the user
    service, and owns each commit."""

    __slots__ = ("access_tokens", "refresh_lifetime", "security", "users")

    def __init__(
        self, users: UserService, access_tokens: AccessTokenIssuer, refresh_lifetime: timedelta, settings: Settings
    ) -> None:
        self.users = users
        self.access_tokens = access_tokens
        self.refresh_lifetime = refresh_lifetime
        self.security = TokenSecurity(users.repository.session, users.outbox, settings)

    def refresh(self, raw_token: str) -> TokenPair:
        """Spend the presented token for a new pair; reuse of a spent token revokes its family (committed)."""
        try:
            rotated = self.security.refresh_tokens.rotate(raw_token, self.refresh_lifetime)
        except AuthenticationFailedError:
            self.users.commit()
            raise
        if self.users.get_active(rotated.user_id) is None:
            self.users.rollback()
            raise AuthenticationFailedError(INVALID_REFRESH_TOKEN)
        self.users.commit()
        return self.access_tokens.pair(rotated.user_id, rotated.raw_token)

    def logout(self, raw_token: str) -> None:
        """Revoke the token's family; unknown tokens are ignored so logout stays idempotent."""
        self.security.refresh_tokens.revoke_family_of(raw_token)
        self.users.commit()

    def _active_user_of(self, raw_token: str, purpose: TokenPurpose) -> User:
        user_id: uuid.UUID = self.security.one_time_tokens.consume(raw_token, purpose)
        user = self.users.get_active(user_id)
        if user is None:
            self.users.rollback()
            raise BadRequestError(INVALID_ONE_TIME_TOKEN)
        return user

    def verify_email(self, raw_token: str) -> User:
        """Spend a verification token and mark its account verified; the account's other such tokens lapse.

        Raises:
            BadRequestError: the token is unknown, expired or used, or its account is inactive.
        """
        user = self._active_user_of(raw_token, TokenPurpose.VERIFY_EMAIL)
        user.is_verified = True
        self.security.one_time_tokens.revoke(user.id, TokenPurpose.VERIFY_EMAIL)
        self.users.commit()
        return user

    def resend_verification(self, user_id: uuid.UUID) -> None:
        """Mail a fresh verification link.

        Raises:
            AuthenticationFailedError: the account was deactivated or deleted since the request was authenticated.
            ConflictError: the address is already verified.
        """
        user = self.users.get_active(user_id)
        if user is None:
            raise AuthenticationFailedError("The account is no longer active")
        if user.is_verified:
            raise ConflictError("The email address is already verified")
        self.security.send_verification(user)
        self.users.commit()

    def request_password_reset(self, email: str) -> None:
        """Mail a reset link if an active account has this address; otherwise do nothing, silently."""
        user = self.users.repository.get_active_by_email(normalise_email(email))
        if user is None:
            return
        self.security.send_password_reset(user)
        self.users.commit()

    def reset_password(self, raw_token: str, password: str) -> None:
        """Spend a reset token, set the password, sign out every session and mail a notice.

        Raises:
            BadRequestError: the token is unknown, expired or used, or its account is inactive.
        """
        user = self._active_user_of(raw_token, TokenPurpose.RESET_PASSWORD)
        user.hashed_password = self.users.passwords.hash(password)
        self.security.one_time_tokens.revoke(user.id, TokenPurpose.RESET_PASSWORD)
        self.security.password_changed(user, user.email)
        self.users.commit()
