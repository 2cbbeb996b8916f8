"""Response bodies of the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

__all__ = ("SecurityEventResponse",)


class SecurityEventResponse(msgspec.Struct, kw_only=True):
    """One security event: ``kind`` happened to the account ``subject_id`` (none for a sign-in with an unknown
    address), done by ``actor_id`` (the account itself, a superuser, or none), in session ``session_id`` if it
    concerns one, from ``ip_address`` and ``user_agent``, during request ``request_id``."""

    id: uuid.UUID
    occurred_at: datetime
    kind: str
    subject_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    session_id: uuid.UUID | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    detail: dict[str, Any]
