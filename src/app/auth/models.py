"""The token tables: refresh tokens and one-time tokens, both kept only as hashes until cleanup deletes them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ("OneTimeToken", "RefreshToken", "TokenPurpose")


class RefreshToken(UUIDv7Base):
    """One refresh token. ``family_id`` groups the chain of rotations that started at one login."""

    __tablename__ = "refresh_token"
    __table_args__ = (Index("ix_refresh_token_expires_at", "expires_at"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[UUID] = mapped_column(GUID, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    spent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class TokenPurpose(StrEnum):
    """What a one-time token proves when it is spent."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105  (a purpose, not a secret)


class OneTimeToken(UUIDv7Base):
    """A single-use token mailed to a user (email verification, password reset); ``used_at`` marks it spent."""

    __tablename__ = "one_time_token"
    __table_args__ = (Index("ix_one_time_token_expires_at", "expires_at"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
