"""Sessions you can see and end: the caller's own under ``/auth/sessions``, any account's for superusers under
``/users/{user_id}/sessions``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.status_codes import HTTP_204_NO_CONTENT

from app.auth.deps import provide_current_session_id
from app.auth.schemas import SessionResponse
from app.auth.service import AuthService
from app.core.caller import requires_superuser
from app.core.openapi import AUTHENTICATED_ERRORS, RESTRICTED_ERRORS, errors
from app.core.page_links import PAGE_HEADERS, page_response
from app.core.pagination import DEFAULT_PAGE_SIZE, Page, PageNumber, PageRequest, PageSize
from app.core.routes import delete, get
from app.users.schemas import UserResponse

__all__ = ("SessionController", "UserSessionController")


class SessionController(Controller):
    """The caller's own sessions."""

    path = "/auth/sessions"
    tags = ["auth"]
    dependencies = {"current_session_id": Provide(provide_current_session_id, sync_to_thread=False)}

    @get(
        "/",
        operation_id="listMySessions",
        responses=errors(*AUTHENTICATED_ERRORS, 422),
        response_headers=PAGE_HEADERS,
    )
    def list_sessions(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[UserResponse],
        current_session_id: NamedDependency[UUID],
        auth_service: NamedDependency[AuthService],
        *,
        page: PageNumber = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Response[Page[SessionResponse]]:
        """The caller's live sessions, most recently used first; ``current`` marks this request's own."""
        listing = auth_service.live_sessions(caller.id, PageRequest(page=page, size=size), current_session_id)
        return page_response(request, listing)

    @delete(
        "/{session_id:uuid}",
        operation_id="endMySession",
        responses=errors(*AUTHENTICATED_ERRORS, 404),
        status_code=HTTP_204_NO_CONTENT,
    )
    def end_session(
        self,
        session_id: FromPath[UUID],
        caller: NamedDependency[UserResponse],
        auth_service: NamedDependency[AuthService],
    ) -> None:
        """End one of the caller's live sessions (this one too, if it is its id): its tokens stop working at once."""
        auth_service.end_session(caller.id, session_id, actor_id=caller.id)

    @delete(
        "/", operation_id="endMyOtherSessions", responses=errors(*AUTHENTICATED_ERRORS), status_code=HTTP_204_NO_CONTENT
    )
    def end_other_sessions(
        self,
        caller: NamedDependency[UserResponse],
        current_session_id: NamedDependency[UUID],
        auth_service: NamedDependency[AuthService],
    ) -> None:
        """End every session of the caller but this request's own."""
        auth_service.end_other_sessions(caller.id, current_session_id)


class UserSessionController(Controller):
    """Any account's sessions, for superusers."""

    path = "/users/{user_id:uuid}/sessions"
    tags = ["users"]

    # The guard is each route's, not the controller's: Litestar's automatic OPTIONS route is public.
    @get(
        "/",
        operation_id="listUserSessions",
        responses=errors(*RESTRICTED_ERRORS, 404, 422),
        response_headers=PAGE_HEADERS,
        guards=[requires_superuser],
    )
    def list_sessions(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[UUID],
        auth_service: NamedDependency[AuthService],
        *,
        page: PageNumber = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> Response[Page[SessionResponse]]:
        """The account's live sessions, most recently used first (superusers only)."""
        return page_response(request, auth_service.live_sessions(user_id, PageRequest(page=page, size=size)))

    @delete(
        "/{session_id:uuid}",
        operation_id="endUserSession",
        responses=errors(*RESTRICTED_ERRORS, 404),
        status_code=HTTP_204_NO_CONTENT,
        guards=[requires_superuser],
    )
    def end_session(
        self,
        user_id: FromPath[UUID],
        session_id: FromPath[UUID],
        caller: NamedDependency[UserResponse],
        auth_service: NamedDependency[AuthService],
    ) -> None:
        """End one of the account's live sessions; its tokens stop working at once (superusers only)."""
        auth_service.end_session(user_id, session_id, actor_id=caller.id)
