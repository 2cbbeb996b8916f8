"""Recording and reading security events.

Every service that changes how an account signs in records what it did through an :class:`AuditLog` built on its own
session, so the event commits or rolls back with the change: it is never lost silently, and never claims a change
that did not happen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from advanced_alchemy.filters import OrderBy
from advanced_alchemy.service import SQLAlchemySyncRepositoryService
from sqlalchemy import and_, case, func, insert, select

from app.audit.models import EventKind, SecurityEvent
from app.audit.schemas import SecurityEventResponse
from app.core.repository import Repository

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.orm import Session, scoped_session

    from app.core.origin import RequestOrigin
    from app.core.pagination import Listing, PageRequest

__all__ = ("AuditLog",)

# Ids are UUIDv7, in time order: they settle ties between events of the same instant.
_NEWEST_FIRST = (OrderBy(field_name="occurred_at", sort_order="desc"), OrderBy(field_name="id", sort_order="desc"))


def _response(event: SecurityEvent) -> SecurityEventResponse:
    return msgspec.convert(event, SecurityEventResponse, from_attributes=True)


class AuditLog(SQLAlchemySyncRepositoryService[SecurityEvent]):
    """The audit log of one unit of work: events it records carry ``origin`` (none for the CLI and workers) and are
    written in the session's transaction; it never commits."""

    class Repo(Repository[SecurityEvent]):
        model_type = SecurityEvent

    repository_type = Repo

    def __init__(
        self, session: Session | scoped_session[Session], origin: RequestOrigin | None = None, **kwargs: Any
    ) -> None:
        super().__init__(session=session, **kwargs)
        self.origin = origin

    def record(
        self,
        kind: EventKind,
        *,
        subject_id: uuid.UUID | None,
        actor_id: uuid.UUID | None,
        session_id: uuid.UUID | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write one event; ``detail`` holds what else a reviewer needs (never a secret)."""
        origin = self.origin
        self.repository.rows(
            insert(SecurityEvent).values(
                occurred_at=datetime.now(UTC),
                kind=kind,
                subject_id=subject_id,
                actor_id=actor_id,
                session_id=session_id,
                ip_address=None if origin is None else origin.ip_address,
                user_agent=None if origin is None else origin.user_agent,
                request_id=None if origin is None else origin.request_id,
                detail=detail or {},
            )
        )

    def is_unfamiliar_sign_in(self, subject_id: uuid.UUID) -> bool:
        """Whether this origin is new for the account: it signed in before, but never from this address with this
        user agent. (A first sign-in is not unfamiliar: there is nothing yet to compare it with.)"""
        origin = self.origin
        if origin is None:
            return False
        from_here = and_(
            SecurityEvent.ip_address == origin.ip_address,
            SecurityEvent.user_agent.is_not_distinct_from(origin.user_agent),
        )
        earlier, familiar = self.repository.rows(
            select(func.count(), func.count(case((from_here, 1)))).where(
                SecurityEvent.subject_id == subject_id, SecurityEvent.kind == EventKind.SIGN_IN_SUCCEEDED
            )
        ).one()
        return bool(earlier) and not familiar

    def read_page(self, subject_id: uuid.UUID, page: PageRequest) -> Listing[SecurityEventResponse]:
        """A page of the events about account ``subject_id``, newest first."""
        events, total = self.get_many_and_count(SecurityEvent.subject_id == subject_id, *_NEWEST_FIRST, page.filter)
        return page.build(events, total).map(_response)
