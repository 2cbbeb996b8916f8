"""The auth tables: sessions, their refresh tokens, one-time tokens, sign-in throttles and two-factor sign-in; tokens
and recovery codes are kept only as hashes, TOTP secrets only sealed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.origin import IP_ADDRESS_MAX_LENGTH, USER_AGENT_MAX_LENGTH

__all__ = (
    "LoginSession",
    "OneTimeToken",
    "RecoveryCode",
    "RefreshToken",
    "SignInThrottle",
    "TokenPurpose",
    "TwoFactor",
)


class LoginSession(UUIDv7Base):
    """A session: one login, from one client, until it is ended (logout, a password change, its owner or a
    superuser ending it) or lapses unused.

    Its refresh tokens are the chain of rotations that started at the login, and every access token issued in it
    names it (the ``sid`` claim): an ended session's access tokens stop working at once, not at their expiry.
    ``expires_at`` moves with each rotation: it is when the session's newest refresh token expires.
    """

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_expires_at", "expires_at"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_used_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX_LENGTH), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(IP_ADDRESS_MAX_LENGTH), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class RefreshToken(UUIDv7Base):
    """One refresh token of a session; spending it issues its successor in the same session."""

    __tablename__ = "refresh_token"
    __table_args__ = (Index("ix_refresh_token_expires_at", "expires_at"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("login_session.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    spent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class TokenPurpose(StrEnum):
    """What a one-time token proves when it is spent."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105  (a purpose, not a secret)
    CHANGE_EMAIL = "change_email"
    # Not mailed: the answer to a right password of an account with two-factor sign-in, spent with its code.
    SIGN_IN_CHALLENGE = "sign_in_challenge"


class OneTimeToken(UUIDv7Base):
    """A single-use token mailed to a user (email verification, password reset, email change); ``used_at`` marks it
    spent. ``new_email`` is the address an email-change token moves the account to: the token was mailed there, so
    spending it proves the account's owner reads that address."""

    __tablename__ = "one_time_token"
    __table_args__ = (Index("ix_one_time_token_expires_at", "expires_at"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    new_email: Mapped[str | None] = mapped_column(String(320), default=None)


class SignInThrottle(UUIDv7Base):
    """The consecutive failed sign-ins of one address (``key``: the SHA-256 of the normalised email, whether or not an
    account has it), and until when it is locked (``app.auth.lockout``)."""

    __tablename__ = "sign_in_throttle"
    __table_args__ = (Index("ix_sign_in_throttle_last_failure_at", "last_failure_at"),)

    key: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class TwoFactor(UUIDv7Base):
    """An account's TOTP (RFC 6238) authenticator: ``sealed_secret`` is the shared secret encrypted with the app's
    two-factor key (``app.core.security.SecretSealing``). Sign-in asks for a code only once ``enabled_at`` is set,
    which a first right code does; until then the row is an enrolment waiting for that code.

    ``last_used_step`` is the time step (``unix time // 30``) of the newest code accepted: a code is accepted only for a
    later step, so no code works twice.
    """

    __tablename__ = "two_factor"

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    sealed_secret: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    enabled_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_used_step: Mapped[int | None] = mapped_column(BigInteger, default=None)


class RecoveryCode(UUIDv7Base):
    """One single-use recovery code of an account's two-factor sign-in, kept only as a SHA-256 hash (it carries 80
    random bits); ``used_at`` marks it spent."""

    __tablename__ = "recovery_code"

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
