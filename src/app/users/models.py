"""The ``user_account`` table."""

from __future__ import annotations

from advanced_alchemy.base import UUIDv7AuditBase
from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ("User",)


class User(UUIDv7AuditBase):
    """A registered account. ``email`` is stored normalised (trimmed, lower-cased) and is unique."""

    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(100), default=None)
    last_name: Mapped[str | None] = mapped_column(String(100), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def full_name(self) -> str:
        names = " ".join(part for part in (self.first_name, self.last_name) if part)
        return names or self.email
