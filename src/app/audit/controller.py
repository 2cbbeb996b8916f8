"""The audit log over HTTP: the caller's own events under ``/auth/events``, any account's for superusers under
``/users/{user_id}/events``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, SkipValidation
from sqlalchemy.orm import Session

from app.audit.schemas import SecurityEventResponse
from app.audit.service import AuditLog
from app.core.caller import Caller, requires_superuser
from app.core.openapi import AUTHENTICATED_ERRORS, RESTRICTED_ERRORS, errors
from app.core.page_links import PAGE_HEADERS, page_response
from app.core.pagination import DEFAULT_PAGE_SIZE, Page, PageNumber, PageRequest, PageSize
from app.core.routes import get

__all__ = ("MyEventsController", "UserEventsController")


def provide_audit_log(db_session: NamedDependency[Session]) -> AuditLog:
    return AuditLog(db_session)


_AUDIT_LOG = {"audit_log": Provide(provide_audit_log, sync_to_thread=False)}


class MyEventsController(Controller):
    """The caller's own security events."""

    path = "/auth/events"
    tags = ["auth"]
    dependencies = _AUDIT_LOG

    @get(
        "/",
        operation_id="listMyEvents",
        responses=errors(*AUTHENTICATED_ERRORS, 422),
        response_headers=PAGE_HEADERS,
    )
    def list_events(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[SkipValidation[Caller]],
        audit_log: NamedDependency[AuditLog],
        *,
        page: PageNumber = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Response[Page[SecurityEventResponse]]:
        """The security events of the caller's account, newest first: sign-ins, sessions ended, password changes,
        and what superusers did to it."""
        return page_response(request, audit_log.read_page(caller.id, PageRequest(page=page, size=size)))


class UserEventsController(Controller):
    """Any account's security events, for superusers."""

    path = "/users/{user_id:uuid}/events"
    tags = ["users"]
    dependencies = _AUDIT_LOG

    # The guard is the route's, not the controller's: Litestar's automatic OPTIONS route is public.
    # 404: a path whose id is no UUID matches no route.
    @get(
        "/",
        operation_id="listUserEvents",
        responses=errors(*RESTRICTED_ERRORS, 404, 422),
        response_headers=PAGE_HEADERS,
        guards=[requires_superuser],
    )
    def list_events(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[UUID],
        audit_log: NamedDependency[AuditLog],
        *,
        page: PageNumber = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Response[Page[SecurityEventResponse]]:
        """The security events of the account, newest first (superusers only); the events outlive the account."""
        return page_response(request, audit_log.read_page(user_id, PageRequest(page=page, size=size)))
