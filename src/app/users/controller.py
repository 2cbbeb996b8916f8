"""Account routes: ``/users/me`` for the caller, ``/users`` and ``/users/{user_id}`` for admins and owners."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from app.core.caller import requires_superuser
from app.core.conditional import NOT_MODIFIED, TAG_HEADERS, IfMatch, TaggedResponse
from app.core.openapi import AUTHENTICATED_ERRORS, BODY_ERRORS, RESTRICTED_ERRORS, errors
from app.core.page_links import PAGE_HEADERS, page_response
from app.core.pagination import DEFAULT_PAGE_SIZE, CursorParameter, KeysetPageNumber, Page, PageQuery, PageSize
from app.core.routes import delete, get, patch, post, put
from app.core.schemas import NO_NUL
from app.users.deps import provide_profiles_service
from app.users.guards import requires_self_or_superuser
from app.users.profiles import ProfileService
from app.users.schemas import (
    ProfileResponse,
    ProfileUpdate,
    UserAdminCreate,
    UserAdminUpdate,
    UserResponse,
    UserUpdate,
)
from app.users.service import UserService, to_user_response

__all__ = ("UserController",)


class UserController(Controller):
    path = "/users"
    tags = ["users"]
    dependencies = {"profiles_service": Provide(provide_profiles_service, sync_to_thread=False)}

    # No thread: the account was read by authentication, so nothing here blocks.
    @get(
        "/me",
        operation_id="getMe",
        responses={**NOT_MODIFIED, **errors(*AUTHENTICATED_ERRORS)},
        response_class=TaggedResponse,
        response_headers=TAG_HEADERS,
        sync_to_thread=False,
    )
    def get_me(self, caller: NamedDependency[UserResponse]) -> UserResponse:
        """The caller's own account."""
        return caller

    @patch("/me", operation_id="updateMe", responses=errors(*BODY_ERRORS, *AUTHENTICATED_ERRORS, 409, 412))
    def update_me(
        self,
        data: JSONBody[UserUpdate],
        caller: NamedDependency[UserResponse],
        users_service: NamedDependency[UserService],
        if_match: IfMatch = None,
    ) -> UserResponse:
        """Change one's own account. A new password or email needs `current_password`; a new password signs out
        every session. A new email is not set at once: a confirmation link goes to it and a notice to the current
        address, and the account keeps its address until the link is used (`POST /auth/confirm-email-change`)."""
        return to_user_response(users_service.update_account(caller.id, data, caller=caller, if_match=if_match))

    @delete(
        "/me", operation_id="deleteMe", responses=errors(*AUTHENTICATED_ERRORS, 412), status_code=HTTP_204_NO_CONTENT
    )
    def delete_me(
        self,
        caller: NamedDependency[UserResponse],
        users_service: NamedDependency[UserService],
        if_match: IfMatch = None,
    ) -> None:
        """Delete one's own account and every token issued to it."""
        users_service.delete_account(caller.id, caller=caller, if_match=if_match)

    # No thread: the profile was read with the account by authentication.
    @get(
        "/me/profile",
        operation_id="getMyProfile",
        responses={**NOT_MODIFIED, **errors(*AUTHENTICATED_ERRORS, 404)},
        response_class=TaggedResponse,
        response_headers=TAG_HEADERS,
        sync_to_thread=False,
    )
    def get_my_profile(self, caller: NamedDependency[UserResponse]) -> ProfileResponse:
        """The caller's profile; 404 until one is created."""
        return ProfileService.of(caller)

    @put(
        "/me/profile",
        operation_id="replaceMyProfile",
        responses=errors(*BODY_ERRORS, *AUTHENTICATED_ERRORS, 409, 412),
    )
    def replace_my_profile(
        self,
        data: JSONBody[ProfileUpdate],
        caller: NamedDependency[UserResponse],
        profiles_service: NamedDependency[ProfileService],
        if_match: IfMatch = None,
    ) -> ProfileResponse:
        """Create or replace the caller's profile; fields left out are cleared."""
        return profiles_service.replace(caller.id, data, if_match=if_match)

    @get(
        "/",
        operation_id="listUsers",
        responses=errors(*RESTRICTED_ERRORS, 400, 422),
        response_headers=PAGE_HEADERS,
        guards=[requires_superuser],
    )
    def list_users(
        self,
        request: Request[Any, Any, Any],
        users_service: NamedDependency[UserService],
        *,
        page: KeysetPageNumber = None,
        size: PageSize = DEFAULT_PAGE_SIZE,
        cursor: CursorParameter = None,
        q: Annotated[
            str | None, QueryParameter(max_length=100, pattern=NO_NUL, description="matches email or names")
        ] = None,
    ) -> Response[Page[UserResponse]]:
        """All accounts, newest first (superusers only)."""
        return page_response(request, users_service.read_page(PageQuery(size, page, cursor), q))

    @post(
        "/",
        operation_id="createUser",
        responses=errors(*BODY_ERRORS, *RESTRICTED_ERRORS, 409),
        guards=[requires_superuser],
        status_code=HTTP_201_CREATED,
    )
    def create_user(
        self,
        data: JSONBody[UserAdminCreate],
        caller: NamedDependency[UserResponse],
        users_service: NamedDependency[UserService],
    ) -> UserResponse:
        """Create an account with any flags (superusers only)."""
        return to_user_response(users_service.create_by_admin(data, actor_id=caller.id))

    @get(
        "/{user_id:str}",
        operation_id="getUser",
        responses={**NOT_MODIFIED, **errors(*RESTRICTED_ERRORS, 404, 422)},
        response_class=TaggedResponse,
        response_headers=TAG_HEADERS,
        guards=[requires_self_or_superuser],
    )
    def get_user(self, user_id: FromPath[UUID], users_service: NamedDependency[UserService]) -> UserResponse:
        """One account: one's own, or any for a superuser."""
        return users_service.read(user_id)

    @patch(
        "/{user_id:str}",
        operation_id="updateUser",
        responses=errors(*BODY_ERRORS, *RESTRICTED_ERRORS, 404, 409, 412),
        guards=[requires_self_or_superuser],
    )
    def update_user(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[UserAdminUpdate],
        caller: NamedDependency[UserResponse],
        users_service: NamedDependency[UserService],
        if_match: IfMatch = None,
    ) -> UserResponse:
        """Change an account; the flags are for superusers only. A new email waits for its owner to confirm the link
        mailed to it, as on `PATCH /users/me`."""
        return to_user_response(users_service.update_account(user_id, data, caller=caller, if_match=if_match))

    @delete(
        "/{user_id:str}",
        operation_id="deleteUser",
        responses=errors(*RESTRICTED_ERRORS, 404, 412, 422),
        guards=[requires_superuser],
        status_code=HTTP_204_NO_CONTENT,
    )
    def delete_user(
        self,
        user_id: FromPath[UUID],
        caller: NamedDependency[UserResponse],
        users_service: NamedDependency[UserService],
        if_match: IfMatch = None,
    ) -> None:
        """Delete another account (superusers only); one's own is `DELETE /users/me` (403 here)."""
        users_service.delete_by_admin(user_id, caller=caller, if_match=if_match)
