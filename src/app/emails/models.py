"""The ``email_outbox`` table: every email, written in the transaction of the change that causes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ("EmailKind", "EmailOutbox", "EmailStatus")


class EmailKind(StrEnum):
    """Which template an outbox row is rendered with."""

    WELCOME = "welcome"
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105  (a template name)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105  (a template name)
    NEW_SIGN_IN = "new_sign_in"
    SESSION_ENDED = "session_ended"
    CONFIRM_EMAIL_CHANGE = "confirm_email_change"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    RECOVERY_CODE_USED = "recovery_code_used"


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class EmailOutbox(UUIDv7AuditBase):
    """One email to send. ``next_attempt_at`` is when the relay may enqueue it again if it is still pending.

    ``user_id`` cascades: deleting an account erases its pending mail (and the address in it), whose links
    would be dead anyway since its one-time tokens are deleted with it.
    """

    __tablename__ = "email_outbox"
    __table_args__ = (
        Index("ix_email_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_email_outbox_status_sent_at", "status", "sent_at"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("user_account.id", ondelete="CASCADE"), index=True, default=None
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
