"""What operators see of the outbox (``/api/v1/ops/emails``, ``inkwell emails``): never a whole address or a token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from app.emails.models import EmailKind, EmailOutbox, EmailStatus

__all__ = ("OutboxEmail", "RetryFailed", "RetryResult", "mask_address", "to_outbox_email")


def mask_address(address: str) -> str:
    """``ada@example.com`` -> ``a***@example.com``: enough to tell whose mail it is, not enough to harvest it."""
    local, at, domain = address.rpartition("@")
    if not at:  # not an address at all: show no more of it than of a local part
        return f"{address[:1]}***"
    return f"{local[:1]}***@{domain}"


class OutboxEmail(msgspec.Struct, kw_only=True):
    """One outbox row; ``template`` is the kind of email, ``recipient`` is masked."""

    id: UUID
    template: EmailKind
    recipient: str
    status: EmailStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


def to_outbox_email(row: EmailOutbox) -> OutboxEmail:
    return OutboxEmail(
        id=row.id,
        template=EmailKind(row.kind),
        recipient=mask_address(row.recipient),
        status=EmailStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        sent_at=row.sent_at,
    )


class RetryFailed(msgspec.Struct, kw_only=True):
    """Retry every failed email, or only those that failed at or after ``failed_since``."""

    failed_since: Annotated[datetime, msgspec.Meta(tz=True, description="with a UTC offset")] | None = None


class RetryResult(msgspec.Struct, kw_only=True):
    retried: int
