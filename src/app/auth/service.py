"""Refresh-token rotation, logout, sessions, email verification and change, password reset (login:
``app.auth.login``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.audit.models import EventKind
from app.auth.account_security import TokenSecurity
from app.auth.models import TokenPurpose
from app.auth.one_time_tokens import INVALID_ONE_TIME_TOKEN
from app.auth.schemas import SessionResponse
from app.auth.sessions import INVALID_REFRESH_TOKEN, ReplayedRefreshTokenError
from app.core.errors import AuthenticationFailedError, BadRequestError, ConflictError, NotFoundError
from app.emails.models import EmailKind
from app.users.service import USER_NOT_FOUND, normalise_email

if TYPE_CHECKING:
    import uuid
    from datetime import timedelta

    from app.auth.access_tokens import AccessTokenIssuer
    from app.auth.models import LoginSession
    from app.auth.schemas import TokenPair
    from app.core.pagination import Listing, PageRequest
    from app.core.settings import Settings
    from app.users.models import User
    from app.users.service import UserService

__all__ = ("SESSION_NOT_FOUND", "AuthService")

SESSION_NOT_FOUND = "No such live session"


class AuthService:
    """Issues token pairs and spends mailed links. It shares the request's session (and outbox) with the user
    service, and owns each commit."""

    __slots__ = ("access_tokens", "audit", "refresh_lifetime", "security", "users")

    def __init__(
        self, users: UserService, access_tokens: AccessTokenIssuer, refresh_lifetime: timedelta, settings: Settings
    ) -> None:
        self.users = users
        self.access_tokens = access_tokens
        self.refresh_lifetime = refresh_lifetime
        self.security = TokenSecurity(users.repository.session, users.outbox, settings)
        self.audit = users.audit

    def refresh(self, raw_token: str) -> TokenPair:
        """Spend the presented token for a new pair in its session; a spent token presented again ends its session
        (committed)."""
        try:
            rotated = self.security.sessions.rotate(raw_token, self.refresh_lifetime)
        except ReplayedRefreshTokenError as exc:
            user_id, session_id = exc.replayed
            self.audit.record(EventKind.REFRESH_TOKEN_REUSED, subject_id=user_id, actor_id=None, session_id=session_id)
            self.users.commit()
            raise
        if self.users.get_active(rotated.user_id) is None:
            self.users.rollback()
            raise AuthenticationFailedError(INVALID_REFRESH_TOKEN)
        self.users.commit()
        return self.access_tokens.pair(rotated.user_id, rotated.session_id, rotated.raw_token)

    def logout(self, raw_token: str) -> None:
        """End the token's session; unknown tokens are ignored so logout stays idempotent."""
        ended = self.security.sessions.end_by_refresh_token(raw_token)
        if ended is not None:
            user_id, session_id = ended
            self.audit.record(EventKind.LOGGED_OUT, subject_id=user_id, actor_id=user_id, session_id=session_id)
        self.users.commit()

    def live_sessions(
        self, user_id: uuid.UUID, page: PageRequest, current_session_id: uuid.UUID | None = None
    ) -> Listing[SessionResponse]:
        """A page of the account's live sessions, the most recently used first; ``current_session_id`` is marked.

        Raises:
            NotFoundError: there is no such account.
        """
        if not self.users.exists(id=user_id):
            raise NotFoundError(USER_NOT_FOUND)

        def response(session: LoginSession) -> SessionResponse:
            return SessionResponse(
                id=session.id,
                created_at=session.created_at,
                last_used_at=session.last_used_at,
                expires_at=session.expires_at,
                ip_address=session.ip_address,
                user_agent=session.user_agent,
                current=session.id == current_session_id,
            )

        return self.security.sessions.read_live(user_id, page).map(response)

    def end_session(self, user_id: uuid.UUID, session_id: uuid.UUID, *, actor_id: uuid.UUID) -> None:
        """End one of the account's live sessions, as ``actor_id`` (its owner or a superuser); its access and refresh
        tokens stop working at once. When a superuser ends it, the owner is mailed a notice.

        Raises:
            NotFoundError: the account has no such live session.
        """
        ended = self.security.sessions.end(user_id, session_id)
        if ended is None:
            raise NotFoundError(SESSION_NOT_FOUND)
        self.audit.record(EventKind.SESSION_ENDED, subject_id=user_id, actor_id=actor_id, session_id=session_id)
        owner = None if actor_id == user_id else self.users.get_one_or_none(id=user_id)
        if owner is not None:
            # Someone else ended it: its owner hears of it, and of which device.
            where = {"ip_address": ended.ip_address, "user_agent": ended.user_agent}
            payload = {"name": owner.full_name, **where}
            self.users.outbox.add(EmailKind.SESSION_ENDED, owner.email, user_id=user_id, payload=payload)
        self.users.commit()

    def end_other_sessions(self, user_id: uuid.UUID, current_session_id: uuid.UUID) -> None:
        """End every session of the account but the current one."""
        self._end_other_sessions(user_id, current_session_id)
        self.users.commit()

    def _end_other_sessions(self, user_id: uuid.UUID, current_session_id: uuid.UUID) -> None:
        for session_id in self.security.sessions.end_all(user_id, keep=current_session_id):
            self.audit.record(EventKind.SESSION_ENDED, subject_id=user_id, actor_id=user_id, session_id=session_id)

    def _active_user_of(self, raw_token: str, purpose: TokenPurpose) -> User:
        user_id = self.security.one_time_tokens.consume(raw_token, purpose).user_id
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

    def confirm_email_change(self, raw_token: str, user_id: uuid.UUID, current_session_id: uuid.UUID) -> User:
        """Spend the token from an email-change link, signed in as its account in session ``current_session_id``:
        the account moves to the address the link was mailed to (verified, since the link proves it is read), the
        links mailed to the former address stop working and every other session ends.

        Raises:
            BadRequestError: the token is unknown, expired, used, superseded by a later change, or another account's.
            ConflictError: another account took the address since the change was requested.
        """
        spent = self.security.one_time_tokens.consume(raw_token, TokenPurpose.CHANGE_EMAIL)
        user = self.users.get_active(user_id) if spent.user_id == user_id else None
        if user is None or spent.new_email is None:
            # Another account's link is as good as no link: spending it here must not void it for its owner.
            self.users.rollback()
            raise BadRequestError(INVALID_ONE_TIME_TOKEN)
        try:
            previous_email = self.users.change_email(user, spent.new_email)
        except ConflictError:
            # The token stays unspent: the link works again if the address is freed before it expires.
            self.users.rollback()
            raise
        self.security.one_time_tokens.revoke(user.id)
        self._end_other_sessions(user.id, current_session_id)
        detail = {"previous_email": previous_email, "email": user.email}
        self.audit.record(
            EventKind.EMAIL_CHANGE_CONFIRMED,
            subject_id=user.id,
            actor_id=user.id,
            session_id=current_session_id,
            detail=detail,
        )
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
        self.audit.record(EventKind.PASSWORD_RESET, subject_id=user.id, actor_id=user.id)
        self.users.commit()
