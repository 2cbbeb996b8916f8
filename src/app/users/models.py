"""The ``user_account`` and ``profile`` tables."""

from __future__ import annotations

from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import GUID
from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

__all__ = ("Profile", "User", "full_name")


def full_name(first_name: str | None, last_name: str | None, email: str) -> str:
    """The name to show: first and last name, or the email address when the account has neither."""
    return " ".join(part for part in (first_name, last_name) if part) or email


class User(UUIDv7AuditBase):
    """A registered account. ``email`` is stored normalised (trimmed, lower-cased) and is unique."""

    __tablename__ = "user_account"
    # The superusers' listing: newest first, the id breaking ties, read by keyset.
    __table_args__ = (Index("ix_user_account_created", "created_at", "id"),)

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(100), default=None)
    last_name: Mapped[str | None] = mapped_column(String(100), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)

    # Joined: the profile is part of every user response, so it rides on the same query.
    profile: Mapped[Profile | None] = relationship(
        back_populates="user", lazy="joined", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name, self.email)


class Profile(UUIDv7AuditBase):
    """A user's public profile: at most one per user, deleted with the user."""

    __tablename__ = "profile"

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    bio: Mapped[str | None] = mapped_column(Text, default=None)
    avatar_url: Mapped[str | None] = mapped_column(String(500), default=None)

    user: Mapped[User] = relationship(back_populates="profile", lazy="raise")
