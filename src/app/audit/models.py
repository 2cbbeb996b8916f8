"""The ``security_event`` table: who did what to which account, from where, and when; never a secret."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.origin import IP_ADDRESS_MAX_LENGTH, USER_AGENT_MAX_LENGTH

__all__ = ("EventKind", "SecurityEvent")


class EventKind(StrEnum):
    """What happened. A superuser's action on another account has an ``actor_id`` other than its ``subject_id``."""

    SIGN_IN_SUCCEEDED = "sign_in_succeeded"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_LOCKED = "sign_in_locked"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105  (an event, not a secret)
    LOGGED_OUT = "logged_out"
    SESSION_ENDED = "session_ended"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    PASSWORD_RESET = "password_reset"  # noqa: S105
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGE_CONFIRMED = "email_change_confirmed"
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    RECOVERY_CODES_REPLACED = "recovery_codes_replaced"
    RECOVERY_CODE_USED = "recovery_code_used"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_CHANGED = "account_changed"
    ACCOUNT_DELETED = "account_deleted"


class SecurityEvent(UUIDv7Base):
    """One security event. No foreign keys: the record of what was done to an account outlives the account, until
    the retention period (``SECURITY_EVENT_RETENTION_DAYS``) deletes it."""

    __tablename__ = "security_event"
    __table_args__ = (
        Index("ix_security_event_subject_occurred", "subject_id", "occurred_at"),
        Index("ix_security_event_occurred_at", "occurred_at"),
    )

    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[UUID | None] = mapped_column(GUID, default=None)
    actor_id: Mapped[UUID | None] = mapped_column(GUID, default=None)
    session_id: Mapped[UUID | None] = mapped_column(GUID, default=None)
    ip_address: Mapped[str | None] = mapped_column(String(IP_ADDRESS_MAX_LENGTH), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX_LENGTH), default=None)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
